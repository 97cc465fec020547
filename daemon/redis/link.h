#pragma once
// One physical connection: an Asio TCP socket, the commands in flight on it (replies come back in
// order, so many can be in flight: pipelining), the RESP reader and the deadline watchdog. A Link
// never reconnects; RedisConnection replaces a dead Link with a new one.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/duration.h"
#include "daemon/redis/reply.h"
#include "daemon/redis/reply_reader.h"
#include "daemon/util/clock.h"
#include "daemon/util/result.h"

namespace chaosd {

/// A move-only, type-erased completion handler for one reply. (Boost 1.81's
/// any_completion_handler looks copyable to lambdas that capture it and then recurses without end
/// when Asio copies such a lambda, so we erase the type ourselves.)
class ReplyHandler {
 public:
  ReplyHandler() = default;
  template <class Handler>
  requires(!std::is_same_v<std::decay_t<Handler>, ReplyHandler>) explicit ReplyHandler(
      Handler&& handler)
      : impl_(std::make_unique<Impl<std::decay_t<Handler>>>(std::forward<Handler>(handler))) {}
  explicit operator bool() const { return impl_ != nullptr; }
  /// Invokes the handler once; afterwards this is empty.
  void operator()(Result<Reply> result) {
    auto impl = std::move(impl_);
    impl->call(std::move(result));
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void call(Result<Reply> result) = 0;
  };
  template <class Handler>
  struct Impl final : Base {
    explicit Impl(Handler h) : handler(std::move(h)) {}
    void call(Result<Reply> result) override { std::move(handler)(std::move(result)); }
    Handler handler;
  };
  std::unique_ptr<Base> impl_;
};

/// A command waiting for its reply. Completed exactly once: by the reply, by its deadline, by
/// cancellation, or by the link dying.
struct PendingCommand {
  SteadyTime deadline;
  bool done = false;
  ReplyHandler handler;
  boost::asio::cancellation_slot slot;
  std::optional<Result<Reply>> early_result;  // completed before anyone awaited it

  /// Moves the settled result out of early_result (which must hold one) and empties it.
  Result<Reply> take_early_result() {
    Result<Reply> result = std::move(*early_result);
    early_result.reset();
    return result;
  }
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  using MessageHandler = std::function<void(const Reply&)>;

  Link(boost::asio::any_io_executor executor, std::string description);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// Starts a non-blocking connect to a numeric IP address. Completion: connected or an error
  /// (refused, unreachable, or no answer within `timeout`).
  void async_connect(const std::string& ip, uint16_t port, Duration timeout,
                     std::function<void(Status)> done);

  /// Sends `commands` (written together, in this call); `pendings[i]` completes with the reply
  /// of `commands[i]`. Pipelining: call again without waiting.
  void send(std::span<const std::vector<std::string>> commands,
            std::span<const std::shared_ptr<PendingCommand>> pendings);

  /// Sends SUBSCRIBE/PSUBSCRIBE; every reply that answers no command (the subscribe
  /// confirmations, then the messages) goes to `on_message`. After this only
  /// (P)SUBSCRIBE/(P)UNSUBSCRIBE may be sent on this link.
  Status subscribe(const std::vector<std::string>& args, MessageHandler on_message);

  /// Commands sent by every link of this process since it started: the load its Redis clients
  /// put on their servers (--once reports it per probe run).
  static uint64_t commands_sent_total();

  bool alive() const { return connected_ && !dead_; }
  const std::string& last_error() const { return last_error_; }
  size_t in_flight() const { return in_flight_.size(); }
  /// Called once when the link dies (error, close, or deadline), on the executor, never inline.
  void on_death(std::function<void(const std::string& reason)> callback) {
    on_death_ = std::move(callback);
  }
  /// Fails every command in flight with `reason` and closes the socket.
  void close(ErrorCode code, const std::string& reason);

 private:
  void on_connected(boost::system::error_code ec);
  void read_more();
  void on_read(boost::system::error_code ec, size_t size);
  void deliver(Reply&& reply);
  void flush();
  void wait_writable();
  // (Replies are passed by rvalue reference down to where they are kept: a Reply moved is a
  // string and a vector moved, several times per reply otherwise.)
  void complete(const std::shared_ptr<PendingCommand>& pending, Result<Reply>&& result);
  void wake_replied();
  void arm_deadline(SteadyTime deadline);
  void check_deadlines();
  void mark_dead(const std::string& reason);

  boost::asio::any_io_executor executor_;
  std::string description_;  // "127.0.0.1:6379", for messages
  boost::asio::ip::tcp::socket socket_;
  ReplyReader reader_;
  std::unique_ptr<char[]> read_buffer_;
  std::string out_;                // requests not written yet
  bool waiting_writable_ = false;  // the socket was full; a wait for room is pending
  bool connected_ = false;
  bool dead_ = false;
  std::function<void(Status)> connect_done_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer deadline_timer_;
  SteadyTime armed_deadline_ = SteadyTime::max();
  std::deque<std::shared_ptr<PendingCommand>> in_flight_;
  std::string last_error_;
  MessageHandler message_handler_;
  std::function<void(const std::string&)> on_death_;
  bool reading_ = false;  // delivering the replies of a read
  // Commands whose reply came in the read under way and whose caller waits: woken after it.
  std::vector<std::shared_ptr<PendingCommand>> replied_;
};

/// Completes `pending` with `result` via its handler, posted (never inline: the caller may be
/// deep inside the link).
void complete_pending(const boost::asio::any_io_executor& executor, PendingCommand& pending,
                      Result<Reply> result);

/// Marks `pending` done with `result` kept in early_result (its handler, if any, is not run).
/// False when it was done already.
bool settle_pending(PendingCommand& pending, Result<Reply>&& result);

}  // namespace chaosd
