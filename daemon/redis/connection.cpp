#include "daemon/redis/connection.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

namespace chaosd {
namespace asio = boost::asio;

namespace {

SteadyTime deadline_after(Duration timeout) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
}

Result<Reply> server_errors_as_errors(Result<Reply> result) {
  if (result.ok() && result.value().is_error()) {
    return Error{ErrorCode::redis_error, result.value().str()};
  }
  return result;
}

// Adapts a callback API (done(Status) called once, on the executor) to an awaitable. Not a
// coroutine itself: GCC 12 destroys by-value coroutine parameters twice in some call shapes.
template <class Start>
asio::awaitable<Status> await_callback(Start start) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(
      [start = std::move(start)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared](Status status) mutable { std::move (*shared)(std::move(status)); });
      },
      asio::use_awaitable);
}

}  // namespace

asio::awaitable<Result<Reply>> await_reply(std::shared_ptr<PendingCommand> pending,
                                           asio::any_io_executor executor) {
  // Not a coroutine (see await_callback): the initiation below owns its copy of `pending`.
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<Reply>)>(
      [pending, executor](auto handler) mutable {
        if (pending->early_result) {
          Result<Reply> result = pending->take_early_result();
          asio::post(executor,
                     [handler = std::move(handler), result = std::move(result)]() mutable {
                       std::move(handler)(std::move(result));
                     });
          return;
        }
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
          pending->slot = slot;
          slot.assign(
              [weak = std::weak_ptr<PendingCommand>(pending), executor](asio::cancellation_type) {
                auto p = weak.lock();
                if (!p) return;
                // Clearing the slot from inside its own handler would destroy this lambda mid-call.
                p->slot = {};
                complete_pending(executor, *p,
                                 Error{ErrorCode::cancelled, "command cancelled by its caller"});
              });
        }
        pending->handler = ReplyHandler(std::move(handler));
      },
      asio::use_awaitable);
}

RedisConnection::RedisConnection(asio::any_io_executor executor, ConnectionOptions options)
    : executor_(std::move(executor)), options_(std::move(options)), connect_waiters_(executor_) {
  connect_waiters_.expires_at(SteadyTime::max());
}

RedisConnection::~RedisConnection() {
  *alive_ = false;
  // A connect in progress holds its coroutine's handler: abort it so neither leaks.
  if (auto connecting = connecting_link_.lock()) {
    connecting->close(ErrorCode::disconnected, "connection destroyed");
  }
  link_.reset();
}

asio::awaitable<Result<Reply>> RedisConnection::command(Command args) {
  co_return co_await command(std::move(args), options_.command_timeout);
}

asio::awaitable<Result<Reply>> RedisConnection::command_for_key(Command args,
                                                                std::string /*route_key*/) {
  co_return co_await command(std::move(args), options_.command_timeout);
}

std::optional<NodeAddress> RedisConnection::node_for_key(std::string_view /*key*/) const {
  return NodeAddress{options_.host, options_.port};
}

asio::awaitable<Result<Reply>> RedisConnection::command(Command args, Duration timeout) {
  // Connected is the common case: test it here rather than enter a coroutine per command for it.
  if (!connected()) {
    Status status = co_await ensure_connected();
    if (!status) co_return status.error();
  }
  auto pending = std::make_shared<PendingCommand>();
  pending->deadline = deadline_after(timeout);
  send(link_.get(), std::span(&args, 1), std::span(&pending, 1));
  // (co_await kept out of call arguments: GCC 12 miscompiles some of those.)
  Result<Reply> reply = co_await await_reply(pending, executor_);
  co_return server_errors_as_errors(std::move(reply));
}

asio::awaitable<std::vector<Result<Reply>>> RedisConnection::pipeline(
    std::vector<Command> commands) {
  std::vector<Result<Reply>> results;
  results.reserve(commands.size());
  if (!connected()) {
    Status status = co_await ensure_connected();
    if (!status) {
      for (size_t i = 0; i < commands.size(); ++i) results.emplace_back(status.error());
      co_return results;
    }
  }
  auto pendings = start_all(link_.get(), commands, options_.command_timeout);
  for (auto& pending : pendings) {
    if (pending->early_result) {
      // Its reply came with an earlier one's (one read delivers many): take it without a trip
      // through the loop per reply.
      results.push_back(server_errors_as_errors(pending->take_early_result()));
      continue;
    }
    Result<Reply> reply = co_await await_reply(pending, executor_);
    results.push_back(server_errors_as_errors(std::move(reply)));
  }
  co_return results;
}

void RedisConnection::send(Link* link, std::span<const Command> commands,
                           std::span<const std::shared_ptr<PendingCommand>> pendings) {
  if (link != nullptr) return link->send(commands, pendings);
  for (const auto& pending : pendings) {
    complete_pending(executor_, *pending, Error{ErrorCode::disconnected, last_error_});
  }
}

std::vector<std::shared_ptr<PendingCommand>> RedisConnection::start_all(
    Link* link, std::span<const Command> commands, Duration timeout) {
  // Two allocations and one clock read for the whole pipeline, not one per command: at 16
  // commands a batch they were a tenth of the driver's own CPU. Each pointer aliases the block.
  // (Not make_shared<T[]>: libstdc++ 12 builds its elements by copying, and these cannot be.)
  std::shared_ptr<PendingCommand[]> block(new PendingCommand[commands.size()]);
  const SteadyTime deadline = deadline_after(timeout);
  std::vector<std::shared_ptr<PendingCommand>> pendings;
  pendings.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    pendings.emplace_back(block, &block[i]);
    pendings.back()->deadline = deadline;
  }
  send(link, commands, pendings);
  return pendings;
}

asio::awaitable<Status> RedisConnection::subscribe(std::vector<std::string> channels, bool pattern,
                                                   Link::MessageHandler on_message) {
  Status status = co_await ensure_connected();
  if (!status) co_return status;
  std::vector<std::string> args{pattern ? "PSUBSCRIBE" : "SUBSCRIBE"};
  args.insert(args.end(), channels.begin(), channels.end());
  status = link_->subscribe(args, std::move(on_message));
  subscribed_ = status.ok();
  co_return status;
}

bool RedisConnection::subscribed() const { return subscribed_ && connected(); }

asio::awaitable<Status> RedisConnection::ensure_connected() {
  if (connected()) co_return Ok{};
  if (connecting_) {
    // Another coroutine is connecting: wait for it rather than opening a second link.
    boost::system::error_code ignored;
    co_await connect_waiters_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (connected()) co_return Ok{};
    co_return Error{ErrorCode::disconnected, last_error_};
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    auto wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count();
    co_return Error{ErrorCode::disconnected, "not connected (next attempt in " +
                                                 std::to_string(wait_ms) + "ms): " + last_error_};
  }
  connecting_ = true;
  auto alive = alive_;
  Status status = co_await connect_once();
  if (!*alive) co_return Error{ErrorCode::disconnected, "connection destroyed"};
  connecting_ = false;
  connect_waiters_.cancel();
  if (status) {
    backoff_ = Duration::zero();
    ++reconnects_;
  } else {
    schedule_backoff(status.error().message);
  }
  co_return status;
}

asio::awaitable<Status> RedisConnection::connect_once() {
  std::string description = options_.host + ":" + std::to_string(options_.port);
  std::string ip = options_.host;
  boost::system::error_code ec;
  asio::ip::make_address(options_.host, ec);
  if (ec) {
    // The link connects to a numeric address: resolve a name without blocking the loop.
    asio::ip::tcp::resolver resolver(executor_);
    auto endpoints = co_await resolver.async_resolve(options_.host, std::to_string(options_.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec || endpoints.empty()) {
      co_return Error{ErrorCode::connect_failed,
                      description + ": cannot resolve host: " + ec.message()};
    }
    ip = endpoints.begin()->endpoint().address().to_string();
  }
  auto link = std::make_shared<Link>(executor_, description);
  connecting_link_ = link;
  Status connected = co_await await_callback([&](auto done) {
    link->async_connect(ip, options_.port, options_.connect_timeout, std::move(done));
  });
  if (!connected) co_return connected;
  Status ready = co_await handshake(*link);
  if (!ready) {
    link->close(ErrorCode::connect_failed, ready.error().message);
    co_return ready;
  }
  link->on_death([weak_alive = std::weak_ptr<bool>(alive_), weak_link = std::weak_ptr<Link>(link),
                  this](const std::string& reason) {
    auto alive = weak_alive.lock();
    auto dead_link = weak_link.lock();
    if (!alive || !*alive || !dead_link) return;
    on_link_death(dead_link, reason);
  });
  link_ = std::move(link);
  co_return Ok{};
}

asio::awaitable<Status> RedisConnection::handshake(Link& link) {
  std::vector<Command> commands;
  if (options_.password) {
    if (options_.username.empty()) {
      commands.push_back({"AUTH", *options_.password});
    } else {
      commands.push_back({"AUTH", options_.username, *options_.password});
    }
  }
  if (options_.db != 0) commands.push_back({"SELECT", std::to_string(options_.db)});
  if (!options_.client_name.empty())
    commands.push_back({"CLIENT", "SETNAME", options_.client_name});
  auto pendings = start_all(&link, commands, options_.connect_timeout);
  for (size_t i = 0; i < pendings.size(); ++i) {
    Result<Reply> reply = co_await await_reply(pendings[i], executor_);
    auto result = server_errors_as_errors(std::move(reply));
    if (!result) {
      co_return Error{ErrorCode::connect_failed,
                      options_.host + ":" + std::to_string(options_.port) + ": " + commands[i][0] +
                          " failed: " + result.error().message};
    }
  }
  co_return Ok{};
}

void RedisConnection::on_link_death(const std::shared_ptr<Link>& link, const std::string& reason) {
  if (link_ != link) return;
  link_.reset();
  subscribed_ = false;
  last_error_ = reason;
  // The first reconnect after a working link is immediate; failures then back off.
  next_attempt_ = std::chrono::steady_clock::now();
}

void RedisConnection::schedule_backoff(const std::string& reason) {
  last_error_ = reason;
  backoff_ = backoff_ == Duration::zero() ? options_.backoff_initial
                                          : std::min(backoff_ * 2, options_.backoff_max);
  // +-20% jitter so that many connections to one restarting server do not reconnect in lockstep.
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  auto delay = std::chrono::duration_cast<Duration>(backoff_ * jitter(rng));
  next_attempt_ = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay);
}

void RedisConnection::reset(const std::string& reason) {
  if (link_) link_->close(ErrorCode::disconnected, reason);
  if (auto connecting = connecting_link_.lock()) connecting->close(ErrorCode::disconnected, reason);
  link_.reset();
  subscribed_ = false;
  last_error_ = reason;
  next_attempt_ = {};
}

}  // namespace chaosd
