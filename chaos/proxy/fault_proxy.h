#pragma once
// FaultProxy: the registry of named proxy links (DESIGN.md §6), the Toxiproxy of redis-chaosd.
// The network_* faults and the lab's inter-region replication go through it.
//
//   FaultProxy proxy(io.get_executor());
//   auto link = proxy.add_link("redis", "127.0.0.1:0", "127.0.0.1:6379");  // listening already
//   auto spec = parse_toxic_spec(nlohmann::json::parse(
//       R"({"type":"latency","stream":"downstream","latency_ms":20,"expires_in_ms":5000})"));
//   (void)proxy.add_toxic("redis", spec.value());
//   ... connect clients to link.value()->listen_port() ...
//   (void)proxy.clear_toxics("redis");
//
// Thread-safety: none, by design (no locks): create, use and destroy it on the io_context thread
// that runs `executor`. Other threads (HTTP) post a command into the loop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "chaos/proxy/proxy_link.h"
#include "chaos/proxy/toxic_spec.h"
#include "daemon/util/result.h"

namespace chaosd {

/// The registry of proxy links. Thread-safety: none (no locks, by design); every call on the
/// io_context thread that runs its executor.
class FaultProxy {
 public:
  explicit FaultProxy(boost::asio::any_io_executor executor, ProxyLinkOptions options = {});
  /// Stops every link.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  /// Creates and starts a link. `listen` and `upstream` are "127.0.0.1:6380"-style loopback
  /// addresses (listen port 0 = any free port; read it back with listen_port()). Errors: a bad
  /// or non-loopback address, a name in use or malformed, a port that cannot be bound.
  Result<ProxyLink*> add_link(const std::string& name, std::string_view listen,
                              std::string_view upstream);
  Result<ProxyLink*> add_link(const std::string& name, boost::asio::ip::tcp::endpoint listen,
                              boost::asio::ip::tcp::endpoint upstream);
  /// Stops the link (closing its connections) and forgets it.
  Status remove_link(std::string_view name);
  /// nullptr when there is no such link. The pointer is valid until remove_link()/destruction.
  ProxyLink* find(std::string_view name);
  const ProxyLink* find(std::string_view name) const;
  /// Every link, by name.
  std::vector<ProxyLink*> list();

  Status add_toxic(std::string_view link, ToxicSpec spec);
  Status update_toxic(std::string_view link, ToxicSpec spec);
  Status remove_toxic(std::string_view link, std::string_view toxic);
  /// Removes every toxic of one link (an error if there is no such link) ...
  Status clear_toxics(std::string_view link);
  /// ... or of every link (halt-all).
  void clear_toxics();
  /// Stops every link (they stay registered; start() them again if needed).
  void stop();

  /// {"links": [ProxyLink::to_json(), ...]} for the status API.
  nlohmann::json to_json() const;

 private:
  Result<ProxyLink*> link_or_error(std::string_view name);

  boost::asio::any_io_executor executor_;
  ProxyLinkOptions options_;
  std::map<std::string, std::unique_ptr<ProxyLink>, std::less<>> links_;
};

}  // namespace chaosd
