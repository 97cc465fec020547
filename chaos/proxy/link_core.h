#pragma once
// The state one link shares with its connections: toxics, counters, options and the registry of
// live connections. Connections hold it by shared_ptr, so it outlives the ProxyLink handle while
// they drain; the link holds connections only weakly (no cycle).
//
// Thread-safety: none; everything here lives on the one io_context thread.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "chaos/proxy/toxic_set.h"
#include "config/duration.h"

namespace chaosd {

class ProxyConnection;

struct ProxyLinkOptions {
  Duration connect_timeout =
      std::chrono::seconds(5);           // upstream connect; then the client is closed
  size_t buffer_bytes = 16 * 1024;       // read buffer per direction, reused
  size_t max_queued_bytes = 256 * 1024;  // per direction, held by toxics before reading pauses
};

/// Counters of one link since it was created (they survive stop/start).
struct ProxyLinkStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_active = 0;
  uint64_t upstream_connect_failures = 0;  // clients closed because upstream did not answer
  uint64_t connections_reset = 0;          // by reset_peer toxics
  uint64_t connections_timed_out = 0;      // closed by timeout toxics
  uint64_t bytes_upstream = 0;             // client -> server, delivered
  uint64_t bytes_downstream = 0;           // server -> client, delivered
  uint64_t bytes_dropped = 0;              // discarded by partition toxics
};

/// Thread-safety: none; used only on the link's io_context thread.
class LinkCore : public std::enable_shared_from_this<LinkCore> {
 public:
  LinkCore(boost::asio::any_io_executor executor, std::string name,
           boost::asio::ip::tcp::endpoint upstream, ProxyLinkOptions options);

  /// Registers a new accepted connection (counted as active until it closes).
  void add_connection(uint64_t id, const std::weak_ptr<ProxyConnection>& connection);
  /// Called once by a connection when it closes.
  void connection_closed(uint64_t id);
  /// Closes every live connection (FIN both ways; data held by toxics is discarded).
  void close_connections();
  /// After the toxic set changed: tells every live connection and re-arms the expiry timer.
  /// `released` = toxics that were removed or replaced (their held data goes out now).
  void toxics_changed(const std::vector<ActiveToxic>& released);
  /// A seed for one connection direction's random source (jitter, slice sizes).
  uint64_t next_seed() { return seeds_(); }

  const boost::asio::any_io_executor executor;
  const std::string name;
  const boost::asio::ip::tcp::endpoint upstream;
  const ProxyLinkOptions options;
  ToxicSet toxics;
  ProxyLinkStats stats;
  uint64_t next_connection_id = 1;

 private:
  std::vector<std::shared_ptr<ProxyConnection>> live_connections() const;
  void arm_expiry();
  void expire();

  std::map<uint64_t, std::weak_ptr<ProxyConnection>> connections_;
  boost::asio::steady_timer expiry_timer_;
  std::mt19937_64 seeds_;
};

}  // namespace chaosd
