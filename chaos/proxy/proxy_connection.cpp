#include "chaos/proxy/proxy_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "chaos/proxy/loopback_endpoint.h"

namespace chaosd {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxSpareChunks = 8;

SteadyTime now() { return std::chrono::steady_clock::now(); }

// Sleeps until `until` or until someone cancels the timer (the wake-up signal of this file).
asio::awaitable<void> wait_on(asio::steady_timer& timer, SteadyTime until) {
  timer.expires_at(until);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace

ProxyConnection::Stream::Stream(ToxicDirection direction_in, tcp::socket& from_in,
                                tcp::socket& to_in, size_t buffer_bytes, uint64_t seed)
    : direction(direction_in),
      from(from_in),
      to(to_in),
      buffer(buffer_bytes),
      pipeline(seed),
      reader_wake(from_in.get_executor()),
      writer_wake(from_in.get_executor()) {}

ProxyConnection::ProxyConnection(std::shared_ptr<LinkCore> core, uint64_t id, tcp::socket client)
    : core_(std::move(core)),
      id_(id),
      client_(std::move(client)),
      server_(core_->executor),
      connect_timer_(core_->executor),
      up_(ToxicDirection::upstream, client_, server_, core_->options.buffer_bytes,
          core_->next_seed()),
      down_(ToxicDirection::downstream, server_, client_, core_->options.buffer_bytes,
            core_->next_seed()) {}

void ProxyConnection::start() {
  boost::system::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  spawn(run());
}

void ProxyConnection::spawn(asio::awaitable<void> task) {
  // The completion handler owns the connection until the coroutine ends: members stay valid.
  asio::co_spawn(core_->executor, std::move(task),
                 [self = shared_from_this()](const std::exception_ptr& error) {
                   if (!error) return;
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     spdlog::error("fault proxy {}: connection {} failed: {}", self->core_->name,
                                   self->id_, e.what());
                   } catch (...) {
                     spdlog::error("fault proxy {}: connection {} failed", self->core_->name,
                                   self->id_);
                   }
                   self->close();
                 });
}

asio::awaitable<void> ProxyConnection::run() {
  connect_timer_.expires_after(core_->options.connect_timeout);
  connect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->server_connected_) return;
    boost::system::error_code ignored;
    self->server_.close(ignored);  // fails the pending connect
  });
  boost::system::error_code ec;
  co_await server_.async_connect(core_->upstream, asio::redirect_error(asio::use_awaitable, ec));
  connect_timer_.cancel();
  if (closed_) co_return;
  if (ec) {
    ++core_->stats.upstream_connect_failures;
    spdlog::debug("fault proxy {}: upstream {} unreachable ({}); closing client", core_->name,
                  to_string(core_->upstream), ec.message());
    close();
    co_return;
  }
  server_connected_ = true;
  server_.set_option(tcp::no_delay(true), ec);
  arm_toxic_timers();
  spawn(read_loop(up_));
  spawn(write_loop(up_));
  spawn(read_loop(down_));
  spawn(write_loop(down_));
}

asio::awaitable<void> ProxyConnection::read_loop(Stream& stream) {
  boost::system::error_code ec;
  const size_t max_queued = core_->options.max_queued_bytes;
  while (!closed_) {
    // A timeout toxic holds data by not reading: TCP backpressure keeps it in the kernel until
    // the toxic goes. A full queue pauses reading the same way.
    if (holds_data(core_->toxics.all(), stream.direction) || stream.queued_bytes >= max_queued) {
      co_await wait_on(stream.reader_wake, SteadyTime::max());
      continue;
    }
    const size_t size = co_await stream.from.async_read_some(
        asio::buffer(stream.buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) co_return;
    if (ec) {
      if (ec == asio::error::eof) {
        stream.eof = true;  // the writer passes the FIN on once the queue is empty
        stream.writer_wake.cancel();
      } else {
        close();
      }
      co_return;
    }
    // A timeout toxic added while we were reading holds this chunk as well.
    while (!closed_ && holds_data(core_->toxics.all(), stream.direction)) {
      co_await wait_on(stream.reader_wake, SteadyTime::max());
    }
    if (closed_) co_return;
    if (stream.queue.empty() && !shapes_data(core_->toxics.all(), stream.direction)) {
      co_await asio::async_write(stream.to, asio::buffer(stream.buffer.data(), size),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) co_return;
      if (ec) {
        close();
        co_return;
      }
      count_delivered(stream, size);
      continue;
    }
    enqueue(stream, size);
  }
}

void ProxyConnection::enqueue(Stream& stream, size_t size) {
  const auto& slices = stream.pipeline.schedule(core_->toxics.all(), stream.direction, size, now());
  if (slices.empty()) {
    core_->stats.bytes_dropped += size;
    return;
  }
  QueuedChunk chunk;
  if (!stream.spare.empty()) {
    chunk = std::move(stream.spare.back());
    stream.spare.pop_back();
  }
  chunk.bytes.assign(stream.buffer.begin(), stream.buffer.begin() + static_cast<ptrdiff_t>(size));
  chunk.slices.assign(slices.begin(), slices.end());
  chunk.next = 0;
  stream.queued_bytes += size;
  stream.queue.push_back(std::move(chunk));
  stream.writer_wake.cancel();
}

asio::awaitable<void> ProxyConnection::write_loop(Stream& stream) {
  boost::system::error_code ec;
  while (!closed_) {
    if (stream.queue.empty()) {
      if (stream.eof) {
        stream.to.shutdown(tcp::socket::shutdown_send, ec);
        stream.done = true;
        if (other(stream).done) close();
        co_return;
      }
      co_await wait_on(stream.writer_wake, SteadyTime::max());
      continue;
    }
    // Only this coroutine pops the queue, so `chunk` stays valid across the write.
    QueuedChunk& chunk = stream.queue.front();
    const Slice slice = chunk.slices[chunk.next];
    if (slice.release > now()) {
      co_await wait_on(stream.writer_wake, slice.release);  // or earlier, if toxics change
      continue;
    }
    co_await asio::async_write(stream.to,
                               asio::buffer(chunk.bytes.data() + slice.offset, slice.size),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) co_return;
    if (ec) {
      close();
      co_return;
    }
    count_delivered(stream, slice.size);
    stream.queued_bytes -= slice.size;
    if (++chunk.next == chunk.slices.size()) {
      if (stream.spare.size() < kMaxSpareChunks) stream.spare.push_back(std::move(chunk));
      stream.queue.pop_front();
    }
    stream.reader_wake.cancel();  // there may be room in the queue again
  }
}

void ProxyConnection::count_delivered(const Stream& stream, size_t bytes) {
  if (stream.direction == ToxicDirection::upstream) {
    core_->stats.bytes_upstream += bytes;
  } else {
    core_->stats.bytes_downstream += bytes;
  }
}

void ProxyConnection::on_toxics_changed(bool release_upstream, bool release_downstream) {
  if (closed_) return;
  const SteadyTime at = now();
  for (Stream* stream : {&up_, &down_}) {
    const bool release = stream == &up_ ? release_upstream : release_downstream;
    if (release) {
      stream->pipeline.release_held(core_->toxics.all(), at);
      for (auto& chunk : stream->queue) {
        for (size_t i = chunk.next; i < chunk.slices.size(); ++i) {
          chunk.slices[i].release = std::min(chunk.slices[i].release, at);
        }
      }
    }
    stream->reader_wake.cancel();
    stream->writer_wake.cancel();
  }
  if (server_connected_) arm_toxic_timers();
}

void ProxyConnection::arm_toxic_timers() {
  if (closed_) return;
  toxic_timers_.remove_if(
      [&](const ToxicTimer& t) { return core_->toxics.find_id(t.toxic_id) == nullptr; });
  for (const auto& toxic : core_->toxics.all()) {
    const bool timed =
        toxic.spec.type == ToxicType::reset_peer ||
        (toxic.spec.type == ToxicType::timeout && toxic.spec.params.timeout > Duration{});
    if (!timed) continue;
    const bool armed = std::any_of(toxic_timers_.begin(), toxic_timers_.end(),
                                   [&](const ToxicTimer& t) { return t.toxic_id == toxic.id; });
    if (armed) continue;
    auto& entry = toxic_timers_.emplace_back(toxic.id, core_->executor);
    entry.timer.expires_after(toxic.spec.params.timeout);
    entry.timer.async_wait([weak = weak_from_this(), id = toxic.id](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_toxic_timer(id);
    });
  }
}

void ProxyConnection::on_toxic_timer(uint64_t toxic_id) {
  if (closed_) return;
  const ActiveToxic* toxic = core_->toxics.find_id(toxic_id);
  if (toxic == nullptr) return;  // removed while its timer was already due
  if (toxic->spec.type == ToxicType::reset_peer) {
    ++core_->stats.connections_reset;
    reset();
  } else {
    ++core_->stats.connections_timed_out;
    close();
  }
}

void ProxyConnection::reset() {
  if (closed_) return;
  boost::system::error_code ignored;
  const asio::socket_base::linger abort(true, 0);  // close() then sends RST, not FIN
  if (client_.is_open()) client_.set_option(abort, ignored);
  if (server_.is_open()) server_.set_option(abort, ignored);
  close();
}

void ProxyConnection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  client_.close(ignored);
  server_.close(ignored);
  connect_timer_.cancel();
  for (Stream* stream : {&up_, &down_}) {
    stream->reader_wake.cancel();
    stream->writer_wake.cancel();
  }
  for (auto& entry : toxic_timers_) entry.timer.cancel();
  core_->connection_closed(id_);
}

}  // namespace chaosd
