#pragma once
// The HTTP API (DESIGN.md §8) on cpp-httplib's own worker threads. Handlers only read the
// published snapshot and the (thread-safe) metrics registry, or hand a command to the loop
// through DaemonControl, which posts it and waits with a timeout.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "daemon/status_snapshot.h"
#include "daemon/util/result.h"

namespace httplib {
class Server;
}

namespace chaosd {

/// The answer of a chaos call: an HTTP status and its JSON body ({"error": ...} on errors).
struct ApiReply {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
};

/// Who made a chaos call, for the audit log.
struct ApiCaller {
  std::string remote;  // "127.0.0.1:53122"
};

class DaemonControl {
 public:
  virtual ~DaemonControl() = default;
  virtual std::shared_ptr<const StatusSnapshot> snapshot() const = 0;
  virtual int64_t heartbeat_ms() const = 0;
  virtual std::string metrics_text() const = 0;
  /// Schedules a run of probe `name` now. Thread-safe. Error when no such probe.
  virtual Result<nlohmann::json> run_probe(const std::string& name) = 0;

  // The chaos API (docs/chaos.md). Thread-safe: each call is handed to the loop and waited for
  // with a timeout (503 if the loop does not answer).
  /// False: every mutating chaos call is 403.
  virtual bool chaos_enabled() const = 0;
  /// Constant-time comparison with the configured token; false when there is none.
  virtual bool chaos_token_matches(std::string_view presented) const = 0;
  /// `body` of POST /api/v1/faults: {"fault","target","duration","params"[,"node"]}.
  virtual ApiReply inject_fault(const nlohmann::json& body, const ApiCaller& caller) = 0;
  virtual ApiReply revert_fault(const std::string& id, const ApiCaller& caller) = 0;
  virtual ApiReply halt_chaos(const std::string& reason, const ApiCaller& caller) = 0;
  virtual ApiReply resume_chaos(const ApiCaller& caller) = 0;
  virtual ApiReply chaos_heartbeat(const ApiCaller& caller) = 0;
  /// POST /api/v1/experiments/{name}/run: 202 with the new run.
  virtual ApiReply run_experiment(const std::string& name, const ApiCaller& caller) = 0;
};

/// Equal strings in time that depends only on their lengths (for tokens).
bool constant_time_equals(std::string_view a, std::string_view b);

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
