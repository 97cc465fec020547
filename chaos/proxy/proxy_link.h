#pragma once
// ProxyLink: one named link of the fault proxy, listen endpoint -> upstream endpoint, both on
// loopback. Every accepted connection gets its own upstream connection and is relayed both ways
// through the link's toxics (see ProxyConnection). Toxics added, updated or removed apply to live
// connections from their next chunk, and to new ones.
//
//   ProxyLink link(io.get_executor(), "redis", listen, upstream);  // listen port 0 = any free
//   if (auto st = link.start(); !st) ...;                           // binds; link.listen_port()
//   (void)link.add_toxic(spec);                                     // ToxicSpec, see toxic_spec.h
//   link.stop();                                                    // listener and connections
//
// Thread-safety: none. Create, use and destroy it on the io_context thread that runs `executor`
// (the daemon's loop); the HTTP layer must post into the loop. Destroying it stops it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>

#include "chaos/proxy/link_core.h"
#include "chaos/proxy/toxic.h"
#include "chaos/proxy/toxic_spec.h"
#include "daemon/util/result.h"

namespace chaosd {

/// One listen -> upstream link. Thread-safety: none; every call on the io_context thread that
/// runs its executor.
class ProxyLink {
 public:
  /// Does not listen yet: start() does, after checking both endpoints are loopback.
  ProxyLink(boost::asio::any_io_executor executor, std::string name,
            boost::asio::ip::tcp::endpoint listen, boost::asio::ip::tcp::endpoint upstream,
            ProxyLinkOptions options = {});
  ~ProxyLink();
  ProxyLink(const ProxyLink&) = delete;
  ProxyLink& operator=(const ProxyLink&) = delete;

  /// Checks the endpoints, binds and listens. With listen port 0 the port bound first is kept
  /// for the life of the link (stop/start and disable/enable reuse it). Idempotent.
  Status start();
  /// Closes the listener and every connection. Toxics and counters stay. Idempotent.
  void stop();
  /// Disabled = like Toxiproxy: new connections are refused (listener closed) and live ones
  /// closed. Enabling a started link listens again on the same port (an error if it is taken).
  Status enabled(bool on);
  bool enabled() const { return enabled_; }
  /// Started and enabled: accepting connections.
  bool listening() const { return acceptor_ != nullptr; }

  const std::string& name() const { return core_->name; }
  /// The port bound by start() (the requested one before that, possibly 0).
  uint16_t listen_port() const { return listen_.port(); }
  const boost::asio::ip::tcp::endpoint& listen_endpoint() const { return listen_; }
  const boost::asio::ip::tcp::endpoint& upstream_endpoint() const { return core_->upstream; }
  const ProxyLinkStats& stats() const { return core_->stats; }

  /// Adds a toxic (validated; its name must be new on this link). It expires by itself after
  /// spec.expires_in, when set.
  Status add_toxic(ToxicSpec spec);
  /// Replaces the toxic of the same name; data the old one held goes out now.
  Status update_toxic(ToxicSpec spec);
  /// Removes the named toxic; data it held goes out now. An error if there is none.
  Status remove_toxic(std::string_view name);
  void clear_toxics();
  /// The toxics in the order they apply.
  std::span<const ActiveToxic> toxics() const { return core_->toxics.all(); }

  /// {"name", "listen", "upstream", "enabled", "listening", "toxics": [...], "stats": {...}};
  /// an expiring toxic carries "remaining_ms".
  nlohmann::json to_json() const;

 private:
  Status listen();
  void close_listener();
  Error error(const std::string& message) const;

  std::shared_ptr<LinkCore> core_;
  boost::asio::ip::tcp::endpoint listen_;
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;  // shared with the accept loop
  bool started_ = false;
  bool enabled_ = true;
};

}  // namespace chaosd
