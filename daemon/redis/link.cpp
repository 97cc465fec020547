#include "daemon/redis/link.h"

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <cstring>

namespace chaosd {
namespace asio = boost::asio;

namespace {
// Relaxed: a statistic, read while links on other io_contexts (tests, bench) may write it.
std::atomic<uint64_t> commands_sent{0};

// Per link, and the daemon holds a hundred links: a page each. A pipelined batch of replies fits;
// a large value takes several reads (Asio reads again at once while the socket has more).
constexpr size_t kReadBufferSize = 4 * 1024;
// The output buffer keeps its capacity between batches up to this (a batch of small commands).
constexpr size_t kKeptOutputCapacity = 4 * 1024;

size_t decimal_digits(size_t n) {
  size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

char* put_count(char* at, char kind, size_t n) {
  *at++ = kind;
  at = std::to_chars(at, at + 20, n).ptr;
  *at++ = '\r';
  *at++ = '\n';
  return at;
}

// Appends the RESP request for `args` to `out`: sized once, then written in place (appending a
// character at a time was the largest user-space cost of a pipelined batch).
void append_command(const std::vector<std::string>& args, std::string& out) {
  size_t size = 3 + decimal_digits(args.size());
  for (const auto& a : args) size += 3 + decimal_digits(a.size()) + a.size() + 2;
  const size_t start = out.size();
  out.resize(start + size);
  char* at = put_count(out.data() + start, '*', args.size());
  for (const auto& a : args) {
    at = put_count(at, '$', a.size());
    std::memcpy(at, a.data(), a.size());
    at += a.size();
    *at++ = '\r';
    *at++ = '\n';
  }
}

}  // namespace

bool settle_pending(PendingCommand& pending, Result<Reply>&& result) {
  if (pending.done) return false;
  pending.done = true;
  if (pending.slot.is_connected()) pending.slot.clear();
  pending.early_result.emplace(std::move(result));
  return true;
}

void complete_pending(const asio::any_io_executor& executor, PendingCommand& pending,
                      Result<Reply> result) {
  if (!settle_pending(pending, std::move(result)) || !pending.handler) return;
  // Everything runs on one io_context, so posting to our executor is posting to the handler's.
  auto handler = std::move(pending.handler);
  Result<Reply> settled = pending.take_early_result();
  asio::post(executor, [handler = std::move(handler), result = std::move(settled)]() mutable {
    std::move(handler)(std::move(result));
  });
}

uint64_t Link::commands_sent_total() { return commands_sent.load(std::memory_order_relaxed); }

Link::Link(asio::any_io_executor executor, std::string description)
    : executor_(std::move(executor)),
      description_(std::move(description)),
      socket_(executor_),
      connect_timer_(executor_),
      deadline_timer_(executor_) {}

Link::~Link() {
  on_death_ = nullptr;
  close(ErrorCode::disconnected, "connection closed by redis-chaosd");
}

void Link::async_connect(const std::string& ip, uint16_t port, Duration timeout,
                         std::function<void(Status)> done) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ip, ec);
  if (ec) {
    std::string why = description_ + ": not an IP address: " + ip;
    last_error_ = why;
    dead_ = true;
    asio::post(executor_, [done = std::move(done), why] {
      done(Error{ErrorCode::connect_failed, why});
    });
    return;
  }
  connect_done_ = std::move(done);
  socket_.async_connect({address, port},
                        [weak = weak_from_this()](boost::system::error_code connect_ec) {
                          if (auto self = weak.lock()) self->on_connected(connect_ec);
                        });
  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([weak = weak_from_this(), timeout](boost::system::error_code timer_ec) {
    auto self = weak.lock();
    if (timer_ec || !self || !self->connect_done_) return;
    self->close(ErrorCode::connect_failed,
                self->description_ + ": no answer to connect within " + format_duration(timeout));
  });
}

void Link::on_connected(boost::system::error_code ec) {
  if (!connect_done_) return;  // closed meanwhile; close() reported it
  connect_timer_.cancel();
  if (!ec) {
    // Requests are small and answered at once: send each batch now (no Nagle delay). Writes are
    // attempted without waiting (see flush()), so the socket must not block.
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    if (!ec) socket_.non_blocking(true, ec);
  }
  if (ec) {
    close(ErrorCode::connect_failed, description_ + ": " + ec.message());
    return;
  }
  connected_ = true;
  read_buffer_ = std::make_unique<char[]>(kReadBufferSize);
  auto done = std::move(connect_done_);
  connect_done_ = nullptr;
  asio::post(executor_, [done = std::move(done)] { done(Ok{}); });
  read_more();
}

void Link::send(std::span<const std::vector<std::string>> commands,
                std::span<const std::shared_ptr<PendingCommand>> pendings) {
  if (!alive()) {
    Error error{ErrorCode::disconnected,
                last_error_.empty() ? description_ + ": not connected" : last_error_};
    for (const auto& pending : pendings) complete_pending(executor_, *pending, error);
    return;
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    append_command(commands[i], out_);
    in_flight_.push_back(pendings[i]);
    arm_deadline(pendings[i]->deadline);
  }
  commands_sent.fetch_add(commands.size(), std::memory_order_relaxed);
  flush();
}

Status Link::subscribe(const std::vector<std::string>& args, MessageHandler on_message) {
  if (!alive()) return Error{ErrorCode::disconnected, description_ + ": not connected"};
  message_handler_ = std::move(on_message);
  append_command(args, out_);
  commands_sent.fetch_add(1, std::memory_order_relaxed);
  flush();
  return Ok{};
}

// Writes now, in the caller's turn, as much as the socket takes: a connected socket nearly always
// has room, and waiting for writability first would cost an epoll_ctl and a loop turn per batch.
// Only what does not fit waits for room.
void Link::flush() {
  if (waiting_writable_ || out_.empty() || !alive()) return;
  boost::system::error_code ec;
  size_t written = socket_.write_some(asio::buffer(out_), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    written = 0;
  }
  if (ec) {
    close(ErrorCode::disconnected, description_ + ": " + ec.message());
    return;
  }
  out_.erase(0, written);
  if (!out_.empty()) {
    wait_writable();
  } else if (out_.capacity() > kKeptOutputCapacity) {
    std::string().swap(out_);  // a large value went out: give its memory back
  }
}

void Link::wait_writable() {
  waiting_writable_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_write,
                     [weak = weak_from_this()](boost::system::error_code ec) {
                       auto self = weak.lock();
                       if (!self) return;
                       self->waiting_writable_ = false;
                       if (!ec) self->flush();
                     });
}

// The handler holds a weak pointer: a link nobody owns any more is destroyed, which closes the
// socket and completes this read as aborted without touching the buffer.
void Link::read_more() {
  socket_.async_read_some(asio::buffer(read_buffer_.get(), kReadBufferSize),
                          [weak = weak_from_this()](boost::system::error_code ec, size_t size) {
                            if (auto self = weak.lock()) self->on_read(ec, size);
                          });
}

// Replies are handed to their callers right after the read that brought them, from this handler
// (not posted: a post per reply batch costs each caller a loop turn, an epoll_wait).
void Link::on_read(boost::system::error_code ec, size_t size) {
  if (dead_) return;
  if (ec) {
    close(ErrorCode::disconnected,
          description_ +
              (ec == asio::error::eof ? ": server closed the connection" : ": " + ec.message()));
    return;
  }
  auto keep_alive = shared_from_this();  // a woken caller may drop its connection, and this link
  reading_ = true;
  if (reader_.feed(read_buffer_.get(), size)) {
    while (!dead_) {
      std::optional<Reply> reply = reader_.next();
      if (!reply) break;
      deliver(std::move(*reply));
    }
  }
  if (!reader_.error().empty() && !dead_) {
    close(ErrorCode::protocol, description_ + ": protocol error: " + reader_.error());
  }
  reading_ = false;
  wake_replied();
  if (!dead_) read_more();
}

void Link::deliver(Reply&& reply) {
  if (!in_flight_.empty()) {
    // Replies come in the order of the commands; a cancelled command still takes its own.
    std::shared_ptr<PendingCommand> pending = std::move(in_flight_.front());
    in_flight_.pop_front();
    complete(pending, Result<Reply>(std::move(reply)));
    return;
  }
  if (message_handler_) {
    // Posted: the handler may do anything, and we are inside the read here.
    asio::post(executor_,
               [handler = message_handler_, message = std::move(reply)] { handler(message); });
    return;
  }
  close(ErrorCode::protocol,
        description_ + ": a reply no command asked for: " + reply.debug_string());
}

void Link::complete(const std::shared_ptr<PendingCommand>& pending, Result<Reply>&& result) {
  if (!reading_) {
    complete_pending(executor_, *pending, std::move(result));
    return;
  }
  if (settle_pending(*pending, std::move(result)) && pending->handler) replied_.push_back(pending);
}

void Link::wake_replied() {
  // Every reply of the read is settled before any caller runs, so that a pipeline finds the rest
  // of its replies waiting when it resumes on its first.
  auto replied = std::move(replied_);
  replied_.clear();
  for (auto& pending : replied) {
    if (!pending->handler || !pending->early_result) continue;
    pending->handler(pending->take_early_result());
  }
}

void Link::arm_deadline(SteadyTime deadline) {
  if (deadline >= armed_deadline_) return;
  armed_deadline_ = deadline;
  deadline_timer_.expires_at(deadline);
  deadline_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->check_deadlines();
  });
}

void Link::check_deadlines() {
  armed_deadline_ = SteadyTime::max();
  auto now = std::chrono::steady_clock::now();
  SteadyTime next = SteadyTime::max();
  for (const auto& pending : in_flight_) {
    // Cancelled commands count too: replies are ordered, so a reply that does not come blocks
    // every later one on this connection.
    if (pending->deadline <= now) {
      close(ErrorCode::timeout, description_ + ": reply overdue (" +
                                    std::to_string(in_flight_.size()) +
                                    " in flight); connection reset");
      return;
    }
    next = std::min(next, pending->deadline);
  }
  if (next != SteadyTime::max()) arm_deadline(next);
}

void Link::close(ErrorCode code, const std::string& reason) {
  connect_timer_.cancel();
  deadline_timer_.cancel();
  if (socket_.is_open()) {
    last_error_ = reason;
    boost::system::error_code ignored;
    socket_.close(ignored);  // pending reads, writes and the connect complete as aborted
  }
  auto in_flight = std::move(in_flight_);
  in_flight_.clear();
  for (const auto& pending : in_flight) complete(pending, Result<Reply>(Error{code, reason}));
  if (connect_done_) {
    auto done = std::move(connect_done_);
    connect_done_ = nullptr;
    asio::post(executor_, [done = std::move(done), reason, code] { done(Error{code, reason}); });
  }
  mark_dead(reason);
}

void Link::mark_dead(const std::string& reason) {
  connected_ = false;
  if (dead_) return;
  dead_ = true;
  if (last_error_.empty()) last_error_ = reason;
  connect_timer_.cancel();
  deadline_timer_.cancel();
  if (on_death_) {
    asio::post(executor_, [callback = on_death_, reason] { callback(reason); });
  }
}

}  // namespace chaosd
