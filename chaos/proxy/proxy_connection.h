#pragma once
// One client connection through a link: connects to upstream, then relays both directions. Each
// direction has a reader coroutine and a writer coroutine. Without a toxic the reader writes each
// chunk straight from its reused buffer (no copy, no allocation); with toxics it schedules the
// chunk (ToxicPipeline) into a queue of release times that the writer drains in order, so a
// latency toxic delays data without serializing it behind earlier delays.
//
// Closing: EOF from one side is passed on as a half-close after the queue drains; the connection
// closes when both directions have ended, or at once on an error, stop(), disable, or a
// timeout/reset_peer toxic. Lifetime: each coroutine and timer handler holds the connection by
// shared_ptr (or weak_ptr), so closing never leaves a handler pointing at freed memory.
//
// Thread-safety: none; every method runs on the link's io_context thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <list>
#include <memory>
#include <vector>

#include "chaos/proxy/link_core.h"
#include "chaos/proxy/toxic.h"

namespace chaosd {

/// Thread-safety: none; every method on the link's io_context thread.
class ProxyConnection : public std::enable_shared_from_this<ProxyConnection> {
 public:
  ProxyConnection(std::shared_ptr<LinkCore> core, uint64_t id, boost::asio::ip::tcp::socket client);
  ProxyConnection(const ProxyConnection&) = delete;
  ProxyConnection& operator=(const ProxyConnection&) = delete;

  /// Connects upstream and starts relaying; on connect failure the client is closed.
  void start();
  /// Closes both sockets (FIN); data held by toxics is discarded. Idempotent.
  void close();
  /// Closes both sockets with RST (SO_LINGER 0), as the reset_peer toxic does.
  void reset();
  /// The link's toxics changed; a direction flagged `release_*` lost a toxic, so data it holds
  /// goes out now.
  void on_toxics_changed(bool release_upstream, bool release_downstream);

  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }

 private:
  // Bytes of one chunk waiting for their release times.
  struct QueuedChunk {
    std::vector<char> bytes;
    std::vector<Slice> slices;
    size_t next = 0;  // first slice not yet written
  };

  // One direction: reads `from`, writes `to`.
  struct Stream {
    Stream(ToxicDirection direction, boost::asio::ip::tcp::socket& from,
           boost::asio::ip::tcp::socket& to, size_t buffer_bytes, uint64_t seed);
    ToxicDirection direction;
    boost::asio::ip::tcp::socket& from;
    boost::asio::ip::tcp::socket& to;
    std::vector<char> buffer;
    ToxicPipeline pipeline;
    std::deque<QueuedChunk> queue;
    std::vector<QueuedChunk> spare;  // recycled chunks keep their capacity
    size_t queued_bytes = 0;
    bool eof = false;                       // the source sent FIN: finish once the queue is empty
    bool done = false;                      // FIN passed on to the destination
    boost::asio::steady_timer reader_wake;  // the reader waits here while held or full
    boost::asio::steady_timer writer_wake;  // the writer waits here for data or a release time
  };

  // A timeout or reset_peer toxic counting down on this connection.
  struct ToxicTimer {
    ToxicTimer(uint64_t id, const boost::asio::any_io_executor& executor)
        : toxic_id(id), timer(executor) {}
    uint64_t toxic_id;
    boost::asio::steady_timer timer;
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> read_loop(Stream& stream);
  boost::asio::awaitable<void> write_loop(Stream& stream);
  void enqueue(Stream& stream, size_t size);
  void count_delivered(const Stream& stream, size_t bytes);
  void arm_toxic_timers();
  void on_toxic_timer(uint64_t toxic_id);
  void spawn(boost::asio::awaitable<void> task);
  Stream& other(const Stream& stream) { return &stream == &up_ ? down_ : up_; }

  std::shared_ptr<LinkCore> core_;
  uint64_t id_;
  boost::asio::ip::tcp::socket client_;
  boost::asio::ip::tcp::socket server_;
  boost::asio::steady_timer connect_timer_;
  Stream up_;    // client -> server
  Stream down_;  // server -> client
  std::list<ToxicTimer> toxic_timers_;
  bool server_connected_ = false;
  bool closed_ = false;
};

}  // namespace chaosd
