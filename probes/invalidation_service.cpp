#include "probes/invalidation_service.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr const char* kInvalidationChannel = "__redis__:invalidate";

}  // namespace

bool InvalidationRound::over() const {
  return complete() || cancelled || error.has_value() || steady_clock::now() >= deadline;
}

void InvalidationRound::on_received() {
  if (++received != expected) return;
  for (auto* service : services) service->wake();
}

void InvalidationRound::fail(const TrackingService& service, const Error& e) {
  if (e.code == ErrorCode::cancelled) {
    cancelled = true;
  } else if (!error) {
    const auto& o = service.options();
    error = "service " + std::to_string(service.index()) + " (" +
            NodeAddress{o.host, o.port}.to_string() + "): " + e.describe();
  }
  for (auto* s : services) s->wake();
}

TrackingService::TrackingService(asio::any_io_executor executor, int index,
                                 ConnectionOptions options)
    : executor_(std::move(executor)),
      index_(index),
      options_(std::move(options)),
      wake_(executor_) {}

asio::awaitable<Status> TrackingService::start() {
  const std::string name = options_.client_name + ":service" + std::to_string(index_);
  ConnectionOptions data_options = options_;
  data_options.client_name = name;
  ConnectionOptions subscriber_options = options_;
  subscriber_options.client_name = name + ":invalidations";
  data_ = std::make_unique<RedisConnection>(executor_, data_options);
  subscriber_ = std::make_unique<RedisConnection>(executor_, subscriber_options);
  healthy_ = false;
  lost_ = false;
  confirmed_ = false;
  flush();

  // REDIRECT names the subscriber by its client id, which it can only ask before subscribing.
  Command ask_id{"CLIENT", "ID"};
  auto id = co_await subscriber_->command(std::move(ask_id));
  if (!id) co_return Error{id.error().code, "CLIENT ID: " + id.error().message};
  if (!id.value().is_integer()) {
    co_return Error{ErrorCode::protocol, "CLIENT ID answered " + id.value().debug_string()};
  }
  std::vector<std::string> channels{kInvalidationChannel};
  Link::MessageHandler on_message = [weak = weak_from_this()](const Reply& message) {
    if (auto self = weak.lock()) self->on_message(message);
  };
  Status subscribed =
      co_await subscriber_->subscribe(std::move(channels), false, std::move(on_message));
  if (!subscribed) {
    co_return Error{subscribed.error().code, "SUBSCRIBE: " + subscribed.error().message};
  }
  // RESP2 tracking publishes only to a redirect client already in Pub/Sub mode: wait until the
  // server has confirmed the subscription before anything is tracked.
  wake_.expires_after(std::chrono::duration_cast<SteadyTime::duration>(options_.command_timeout));
  while (!confirmed_) {
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (confirmed_) break;
    auto state = co_await asio::this_coro::cancellation_state;
    if (cancelled(state)) co_return Error{ErrorCode::cancelled, "cancelled"};
    if (!ec || !subscriber_->subscribed()) {
      co_return Error{ErrorCode::timeout, "no SUBSCRIBE confirmation within " +
                                              format_duration(options_.command_timeout)};
    }
  }
  Command track{"CLIENT", "TRACKING", "ON", "REDIRECT", std::to_string(id.value().integer())};
  auto tracking = co_await data_->command(std::move(track));
  if (!tracking) {
    co_return Error{tracking.error().code, "CLIENT TRACKING: " + tracking.error().message};
  }
  data_reconnects_ = data_->reconnects();
  healthy_ = true;
  co_return Ok{};
}

bool TrackingService::healthy() {
  if (!healthy_) return false;
  // A replaced data connection has lost its tracking; a dropped subscriber its channel. Either
  // way the server will not tell this service about changes any more.
  if (subscriber_->subscribed() && data_->connected() && data_->reconnects() == data_reconnects_) {
    return true;
  }
  healthy_ = false;
  lost_ = true;
  flush();
  return false;
}

asio::awaitable<Result<std::vector<std::optional<std::string>>>> TrackingService::read(
    const std::vector<std::string>& keys) {
  const bool caching = healthy();
  std::vector<std::optional<std::string>> values(keys.size());
  std::vector<size_t> misses;
  std::vector<uint64_t> epochs_then;
  std::vector<Command> gets;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (caching) {
      if (auto hit = cache_.find(keys[i]); hit != cache_.end()) {
        values[i] = hit->second;
        continue;
      }
    }
    misses.push_back(i);
    epochs_then.push_back(epochs_[keys[i]]);
    gets.push_back(Command{"GET", keys[i]});
  }
  if (gets.empty()) co_return values;
  const uint64_t flush_then = flush_epoch_;
  auto replies = co_await send(std::move(gets));
  for (size_t j = 0; j < replies.size(); ++j) {
    if (!replies[j]) co_return replies[j].error();
    const Reply& reply = replies[j].value();
    const std::string& key = keys[misses[j]];
    std::optional<std::string> value;
    if (!reply.is_nil()) value = reply.str();
    values[misses[j]] = value;
    if (caching && healthy() && flush_epoch_ == flush_then && epochs_[key] == epochs_then[j]) {
      cache_[key] = std::move(value);
    }
  }
  co_return values;
}

asio::awaitable<std::vector<Result<Reply>>> TrackingService::send(std::vector<Command> commands) {
  std::vector<Command> again = commands;
  auto replies = co_await data_->pipeline(std::move(commands));
  for (const auto& reply : replies) {
    if (!reply && reply.error().code == ErrorCode::disconnected) {
      // The data connection dropped under these commands (reads and idempotent writes): send
      // them once more on its replacement, which tracks nothing (healthy() now says so).
      healthy();
      co_return co_await data_->pipeline(std::move(again));
    }
  }
  co_return replies;
}

void TrackingService::attach(InvalidationRound* round) {
  round_ = round;
  cascades_.clear();
  cache_.clear();
  epochs_.clear();
}

void TrackingService::on_message(const Reply& message) {
  if (!message.is_array() || message.elements().size() < 3) return;
  const auto& parts = message.elements();
  if (parts[0].str() == "subscribe") {
    confirmed_ = true;
    wake_.cancel();
    return;
  }
  if (parts[0].str() != "message" || parts[1].str() != kInvalidationChannel) return;
  const auto now = steady_clock::now();
  const Reply& keys = parts[2];
  if (keys.is_nil()) {
    // FLUSHALL/FLUSHDB: everything this service has cached is gone.
    flush();
  } else if (keys.is_array()) {
    for (const auto& key : keys.elements()) invalidate(key.str(), now);
  } else if (keys.is_string()) {
    invalidate(keys.str(), now);
  }
}

void TrackingService::invalidate(const std::string& key, SteadyTime at) {
  cache_.erase(key);
  if (auto epoch = epochs_.find(key); epoch != epochs_.end()) ++epoch->second;
  if (round_ == nullptr || !round_->armed) return;
  auto found = round_->index.find(key);
  if (found == round_->index.end()) return;
  auto& node = round_->nodes[found->second];
  auto& seen = node.received[index_];
  if (!seen) {
    seen = at;
    round_->on_received();
  }
  if (node.owner == index_ && !node.children.empty() && !node.cascaded) {
    node.cascaded = true;
    cascades_.push_back(found->second);
    wake_.cancel();
  }
}

void TrackingService::flush() {
  cache_.clear();
  ++flush_epoch_;
}

asio::awaitable<void> TrackingService::cascade(InvalidationRound& round) {
  for (;;) {
    while (!cascades_.empty() && !round.cancelled && !round.error) {
      const int at = cascades_.front();
      cascades_.pop_front();
      // The dependents derive from the node's new value: read it (a miss now: its invalidation
      // dropped it from the cache), then rewrite every child with it.
      std::vector<std::string> node_key{round.nodes[at].key};
      auto value = co_await read(node_key);
      if (!value) {
        round.fail(*this, value.error());
        break;
      }
      if (!value.value()[0]) {
        round.fail(*this, Error{ErrorCode::protocol, round.nodes[at].key + " vanished"});
        break;
      }
      std::vector<Command> writes;
      for (int child : round.nodes[at].children) {
        writes.push_back(
            Command{"SET", round.nodes[child].key, *value.value()[0], "PX", round.value_ttl_ms});
      }
      auto written = co_await send(std::move(writes));
      for (auto& reply : written) {
        if (!reply) {
          round.fail(*this, reply.error());
          break;
        }
      }
    }
    if (round.over()) co_return;
    wake_.expires_at(round.deadline);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto state = co_await asio::this_coro::cancellation_state;
    if (cancelled(state)) {
      round.cancelled = true;
      co_return;
    }
  }
}

}  // namespace chaosd
