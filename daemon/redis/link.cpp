#include "daemon/redis/link.h"

#include <hiredis/async.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <charconv>

#include "daemon/redis/asio_adapter.h"

namespace chaosd {
namespace asio = boost::asio;

bool settle_pending(PendingCommand& pending, Result<Reply>&& result) {
  if (pending.done) return false;
  pending.done = true;
  if (pending.slot.is_connected()) pending.slot.clear();
  pending.early_result.emplace(std::move(result));
  return true;
}

void complete_pending(const asio::any_io_executor& executor, PendingCommand& pending,
                      Result<Reply> result) {
  if (pending.done) return;
  pending.done = true;
  if (pending.slot.is_connected()) pending.slot.clear();
  if (!pending.handler) {
    pending.early_result.emplace(std::move(result));
    return;
  }
  // Everything runs on one io_context, so posting to our executor is posting to the handler's.
  auto handler = std::move(pending.handler);
  asio::post(executor, [handler = std::move(handler), result = std::move(result)]() mutable {
    std::move(handler)(std::move(result));
  });
}

Link::Link(asio::any_io_executor executor, std::string description)
    : executor_(std::move(executor)),
      description_(std::move(description)),
      connect_timer_(executor_),
      deadline_timer_(executor_) {}

Link::~Link() {
  on_death_ = nullptr;
  close(ErrorCode::disconnected, "connection closed by redis-chaosd");
}

void Link::async_connect(const std::string& ip, uint16_t port, Duration timeout,
                         std::function<void(Status)> done) {
  auto fail_now = [&](const std::string& why) {
    last_error_ = why;
    dead_ = true;
    asio::post(executor_, [done = std::move(done), why] {
      done(Error{ErrorCode::connect_failed, why});
    });
  };
  context_ = redisAsyncConnect(ip.c_str(), port);
  if (context_ == nullptr) return fail_now("cannot allocate a hiredis context");
  if (context_->err) {
    std::string why = description_ + ": " + context_->errstr;
    redisAsyncFree(context_);
    context_ = nullptr;
    return fail_now(why);
  }
  context_->data = this;
  HiredisAsioAdapter::attach(executor_, context_);
  // `this` outlives the context (the destructor frees it), and the adapter calls this only while
  // the context lives.
  HiredisAsioAdapter::of(context_).set_read_handler([this] { handle_read(); });
  connect_done_ = std::move(done);
  redisAsyncSetDisconnectCallback(context_, &Link::on_disconnect);
  redisAsyncSetConnectCallback(context_, &Link::on_connect);  // arms the first write wait

  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([weak = weak_from_this(), timeout](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->connected_ || !self->connect_done_) return;
    self->close(ErrorCode::connect_failed,
                self->description_ + ": no answer to connect within " + format_duration(timeout));
  });
}

void Link::on_connect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<Link*>(context->data);
  self->connect_timer_.cancel();
  auto done = std::move(self->connect_done_);
  self->connect_done_ = nullptr;
  if (status == REDIS_OK) {
    self->connected_ = true;
    if (done) asio::post(self->executor_, [done = std::move(done)] { done(Ok{}); });
    return;
  }
  // hiredis frees the context right after this callback, without calling on_disconnect.
  std::string why = self->description_ + ": " + context->errstr;
  self->context_ = nullptr;
  self->mark_dead(why);
  if (done) {
    asio::post(self->executor_, [done = std::move(done), why] {
      done(Error{ErrorCode::connect_failed, why});
    });
  }
}

void Link::on_disconnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<Link*>(context->data);
  std::string why =
      status == REDIS_OK ? self->last_error_ : self->description_ + ": " + context->errstr;
  if (why.empty()) why = self->description_ + ": connection closed";
  self->context_ = nullptr;
  self->mark_dead(why);
}

namespace {
// Relaxed: a statistic, read while links on other io_contexts (tests, bench) may write it.
std::atomic<uint64_t> commands_sent{0};

// The RESP request into `out`, whose capacity is reused: hiredis' own formatting
// (redisAsyncCommandArgv) builds it with sdscatfmt and a reallocation per argument, a visible
// share of a pipelined run's CPU.
void format_command(const std::vector<std::string>& args, std::string& out) {
  size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  out.clear();
  out.reserve(size);
  char digits[24];
  auto append_count = [&](char kind, size_t n) {
    out += kind;
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
    out += "\r\n";
  };
  append_count('*', args.size());
  for (const auto& a : args) {
    append_count('$', a.size());
    out += a;
    out += "\r\n";
  }
}

}  // namespace

uint64_t Link::commands_sent_total() { return commands_sent.load(std::memory_order_relaxed); }

void Link::send(std::span<const std::vector<std::string>> commands,
                std::span<const std::shared_ptr<PendingCommand>> pendings) {
  if (!alive()) {
    for (const auto& pending : pendings) send_one({}, pending);  // fails each
    return;
  }
  // One write for them all, now: a write scheduled per loop turn costs the caller a turn (an
  // epoll_wait) per command batch.
  auto& adapter = HiredisAsioAdapter::of(context_);
  adapter.hold_writes();
  for (size_t i = 0; i < commands.size(); ++i) send_one(commands[i], pendings[i]);
  // A failed send may have freed the context (and the adapter with it).
  if (context_ != nullptr) adapter.release_writes();
}

void Link::send_one(const std::vector<std::string>& args,
                    const std::shared_ptr<PendingCommand>& pending) {
  if (!alive()) {
    complete_pending(executor_, *pending,
                     Error{ErrorCode::disconnected,
                           last_error_.empty() ? description_ + ": not connected" : last_error_});
    return;
  }
  format_command(args, request_);
  in_flight_.push_back(pending);
  int rc = redisAsyncFormattedCommand(context_, &Link::on_reply, pending.get(), request_.data(),
                                      request_.size());
  if (rc != REDIS_OK) {
    in_flight_.pop_back();
    complete_pending(executor_, *pending,
                     Error{ErrorCode::disconnected, description_ + ": command not accepted"});
    return;
  }
  commands_sent.fetch_add(1, std::memory_order_relaxed);
  arm_deadline(pending->deadline);
}

Status Link::subscribe(const std::vector<std::string>& args, MessageHandler on_message) {
  if (!alive()) return Error{ErrorCode::disconnected, description_ + ": not connected"};
  message_handler_ = std::move(on_message);
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  int rc = redisAsyncCommandArgv(context_, &Link::on_message, this, static_cast<int>(args.size()),
                                 argv.data(), lengths.data());
  if (rc != REDIS_OK) return Error{ErrorCode::disconnected, description_ + ": subscribe refused"};
  return Ok{};
}

// Replies are handed to their callers after hiredis is done with the read, directly (not posted):
// a post per reply batch costs the caller a loop turn (an epoll_wait) each.
void Link::handle_read() {
  if (context_ == nullptr) return;
  auto keep_alive = shared_from_this();  // a woken caller may drop its connection, and this link
  reading_ = true;
  redisAsyncHandleRead(context_);  // may free the context (connection error)
  reading_ = false;
  wake_replied();
}

void Link::wake_replied() {
  // Every reply of the read is settled before any caller runs, so that a pipeline finds the rest
  // of its replies waiting when it resumes on its first.
  auto replied = std::move(replied_);
  replied_.clear();
  for (auto& pending : replied) {
    if (!pending->handler || !pending->early_result) continue;
    Result<Reply> result = std::move(*pending->early_result);
    pending->early_result.reset();
    pending->handler(std::move(result));
  }
}

void Link::on_reply(redisAsyncContext* context, void* reply, void* privdata) {
  auto* self = static_cast<Link*>(context->data);
  auto* pending = static_cast<PendingCommand*>(privdata);
  // Replies arrive in order, so this is nearly always the front.
  std::shared_ptr<PendingCommand> owned;
  if (!self->in_flight_.empty() && self->in_flight_.front().get() == pending) {
    owned = std::move(self->in_flight_.front());
    self->in_flight_.pop_front();
  }
  for (auto it = self->in_flight_.begin(); !owned && it != self->in_flight_.end(); ++it) {
    if (it->get() == pending) {
      owned = std::move(*it);
      self->in_flight_.erase(it);
      break;
    }
  }
  if (!owned) return;
  if (reply == nullptr) {
    std::string why =
        context->err ? self->description_ + ": " + context->errstr : self->last_error_;
    if (why.empty()) why = self->description_ + ": connection closed";
    self->complete(owned, Error{self->close_code_, why});
    return;
  }
  self->complete(owned, Reply::from_hiredis(static_cast<const redisReply*>(reply)));
}

void Link::complete(const std::shared_ptr<PendingCommand>& pending, Result<Reply> result) {
  if (!reading_) {
    complete_pending(executor_, *pending, std::move(result));
    return;
  }
  if (settle_pending(*pending, std::move(result)) && pending->handler) replied_.push_back(pending);
}

void Link::on_message(redisAsyncContext* context, void* reply, void* privdata) {
  auto* self = static_cast<Link*>(privdata);
  (void)context;
  if (reply == nullptr || !self->message_handler_) return;
  // Posted, not inline: the handler may do anything, and we are inside hiredis here.
  asio::post(self->executor_, [handler = self->message_handler_,
                               message = Reply::from_hiredis(static_cast<redisReply*>(reply))] {
    handler(message);
  });
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
  if (context_ != nullptr) {
    close_code_ = code;
    last_error_ = reason;
    redisAsyncContext* context = context_;
    context_ = nullptr;
    // Runs on_reply(NULL) for everything in flight, then on_disconnect if connected.
    redisAsyncFree(context);
  }
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
