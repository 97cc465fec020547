#pragma once
// The HTTP API (DESIGN.md §8) on cpp-httplib's own worker threads. Handlers only read the
// published snapshot and the (thread-safe) metrics registry, or hand a command to the loop
// through DaemonControl, which posts it and waits with a timeout.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "daemon/status_snapshot.h"
#include "daemon/util/result.h"

namespace httplib {
class Server;
}

namespace chaosd {

class DaemonControl {
 public:
  virtual ~DaemonControl() = default;
  virtual std::shared_ptr<const StatusSnapshot> snapshot() const = 0;
  virtual int64_t heartbeat_ms() const = 0;
  virtual std::string metrics_text() const = 0;
  /// Schedules a run of probe `name` now. Thread-safe. Error when no such probe.
  virtual Result<nlohmann::json> run_probe(const std::string& name) = 0;
};

class HttpServer {
 public:
  explicit HttpServer(DaemonControl& control);
  ~HttpServer();
  /// Binds `listen` ("127.0.0.1:9490", "[::1]:9490", "0.0.0.0:9490"; port 0 picks a free one)
  /// and starts serving on a background thread.
  Status start(const std::string& listen);
  void stop();
  int port() const { return port_; }

 private:
  void install_routes();
  DaemonControl& control_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

/// Splits "host:port" / "[v6]:port"; false if malformed.
bool split_listen_address(const std::string& listen, std::string& host, int& port);

}  // namespace chaosd
