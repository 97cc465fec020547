#include "probes/ttl.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "config/params.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

struct ExpiringKey {
  std::string name;
  SteadyTime expected;  // when the key should stop being readable, on our steady clock
};

SteadyTime midpoint(SteadyTime a, SteadyTime b) { return a + (b - a) / 2; }

constexpr const char* kLateRead =
    "the read before the deadline was answered after it (the daemon was held up longer than "
    "margin): nothing to judge this run";

// Writes every key with the same TTL in one pipeline: even indices with PX (relative: expiry is
// counted from when the server executes the SET, which we estimate as the midpoint of the round
// trip), odd ones with PXAT (absolute unix ms from our wall clock: clock skew shows up as error).
asio::awaitable<Result<std::vector<ExpiringKey>>> write_keys(ProbeContext& ctx,
                                                             const std::vector<std::string>& names,
                                                             Duration ttl) {
  auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl);
  auto wall_sent = std::chrono::system_clock::now();
  auto steady_sent = steady_clock::now();
  auto wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_sent.time_since_epoch());
  auto pxat_deadline = wall_ms + ttl_ms;
  std::vector<Command> commands;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i % 2 == 0) {
      commands.push_back({"SET", names[i], "1", "PX", std::to_string(ttl_ms.count())});
    } else {
      commands.push_back({"SET", names[i], "1", "PXAT", std::to_string(pxat_deadline.count())});
    }
  }
  auto replies = co_await ctx.redis.pipeline(std::move(commands));
  auto steady_acked = steady_clock::now();
  std::vector<ExpiringKey> keys;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!replies[i]) co_return replies[i].error();
    SteadyTime expected = i % 2 == 0 ? midpoint(steady_sent, steady_acked) + ttl_ms
                                     : steady_sent + (pxat_deadline - wall_sent.time_since_epoch());
    keys.push_back({names[i], expected});
  }
  co_return keys;
}

SteadyTime earliest(const std::vector<ExpiringKey>& keys) {
  SteadyTime t = SteadyTime::max();
  for (const auto& k : keys) t = std::min(t, k.expected);
  return t;
}

SteadyTime latest(const std::vector<ExpiringKey>& keys) {
  SteadyTime t = SteadyTime::min();
  for (const auto& k : keys) t = std::max(t, k.expected);
  return t;
}

std::vector<Command> gets_of(const std::vector<ExpiringKey>& keys) {
  std::vector<Command> gets;
  for (const auto& k : keys) gets.push_back({"GET", k.name});
  return gets;
}

// How many replies show the presence `expect_present` (a value, or nil when not expected).
Result<int> count_presence(const std::vector<Result<Reply>>& replies, bool expect_present) {
  int correct = 0;
  for (const auto& reply : replies) {
    if (!reply) return reply.error();
    if (reply.value().is_nil() != expect_present) ++correct;
  }
  return correct;
}

// Reads every key in one pipeline, on the primary (through the probe's client).
asio::awaitable<Result<int>> count_presence(RedisClient& redis,
                                            const std::vector<ExpiringKey>& keys,
                                            bool expect_present) {
  auto replies = co_await redis.pipeline(gets_of(keys));
  co_return count_presence(replies, expect_present);
}

// The same on a replica (READONLY first on a cluster replica).
asio::awaitable<Result<int>> count_presence(RedisConnection& connection,
                                            const ReplicaEndpoint& replica,
                                            const std::vector<ExpiringKey>& keys,
                                            bool expect_present) {
  auto replies = co_await pipeline_on_replica(connection, replica, gets_of(keys));
  co_return count_presence(replies, expect_present);
}

// Polls the keys until each is gone; returns the worst |first seen gone - expected| in seconds.
asio::awaitable<Result<double>> worst_timing_error(ProbeContext& ctx, std::vector<ExpiringKey> keys,
                                                   Duration poll_interval) {
  const auto give_up = latest(keys) + std::chrono::seconds(1);
  if (!co_await sleep_until(earliest(keys) - std::chrono::milliseconds(3))) {
    co_return Error{ErrorCode::cancelled, "ttl probe cancelled"};
  }
  double worst = 0;
  SteadyTime previous_poll{};
  while (!keys.empty()) {
    std::vector<Command> polls;
    for (const auto& k : keys) polls.push_back({"EXISTS", k.name});
    auto sent = steady_clock::now();
    auto replies = co_await ctx.redis.pipeline(std::move(polls));
    auto polled = midpoint(sent, steady_clock::now());  // ~when the server looked
    // The key vanished between the previous look and this one: take the middle.
    auto seen_gone = previous_poll == SteadyTime{} ? polled : midpoint(previous_poll, polled);
    std::vector<ExpiringKey> remaining;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!replies[i]) co_return replies[i].error();
      if (replies[i].value().integer() == 0) {
        worst = std::max(worst, std::abs(seconds_between(keys[i].expected, seen_gone)));
      } else {
        remaining.push_back(keys[i]);
      }
    }
    keys = std::move(remaining);
    previous_poll = polled;
    if (steady_clock::now() > give_up) {
      // Never expired within a second of the deadline: report that second as the error.
      if (!keys.empty())
        worst = std::max(worst,
                         seconds_between(give_up - std::chrono::seconds(1), steady_clock::now()));
      break;
    }
    if (!co_await sleep_for(poll_interval)) co_return Error{ErrorCode::cancelled, "cancelled"};
  }
  co_return worst;
}

// Expired-key events seen by the subscriber: key -> when the event arrived. Shared with the
// message handler, which may still be queued on the loop after the run ends.
using ExpiredEvents = std::unordered_map<std::string, SteadyTime>;

asio::awaitable<Result<bool>> notifications_enabled(ProbeContext& ctx) {
  Command config_get{"CONFIG", "GET", "notify-keyspace-events"};
  auto reply = co_await ctx.redis.command_for_key(std::move(config_get), ctx.key_prefix);
  if (!reply) co_return reply.error();
  const auto& parts = reply.value().elements();
  if (parts.size() != 2) co_return false;
  const std::string& flags = parts[1].str();
  bool keyevent = flags.find('E') != std::string::npos;
  bool expired = flags.find('x') != std::string::npos || flags.find('A') != std::string::npos;
  co_return keyevent&& expired;
}

}  // namespace

asio::awaitable<ProbeResult> TtlProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  const std::string base = ctx.key_prefix + "r" + std::to_string(++run_number_) + ":";
  auto names = [&](const char* group) {
    std::vector<std::string> out;
    for (int i = 0; i < params_.keys; ++i) out.push_back(base + group + std::to_string(i));
    return out;
  };

  // Subscribe before writing so that no expiry event can be missed.
  auto events = std::make_shared<ExpiredEvents>();
  std::unique_ptr<RedisConnection> subscriber;
  auto enabled = co_await notifications_enabled(ctx);
  if (!enabled) {
    result.notes.push_back("reclaim not measured: CONFIG GET failed (" + enabled.error().message +
                           ")");
  } else if (!enabled.value()) {
    result.notes.push_back(
        "reclaim not measured: the server has no expired-key events "
        "(set notify-keyspace-events to include E and x)");
    result.add_not_applicable("expired_reclaim_ratio", "keyspace notifications are off");
  } else {
    // Expiry events are emitted by the node holding the keys (on a cluster: the slot's owner).
    ConnectionOptions options = ctx.target;
    if (auto node = ctx.redis.node_for_key(ctx.key_prefix)) {
      options.host = node->host;
      options.port = node->port;
    }
    options.client_name += ":events";
    subscriber = std::make_unique<RedisConnection>(ctx.executor, options);
    std::vector<std::string> channels{"__keyevent@" + std::to_string(options.db) + "__:expired"};
    // A named handler, not a temporary in the co_await expression: GCC 12 destroys such
    // temporaries twice when they are passed by value to a coroutine.
    Link::MessageHandler on_expired = [events](const Reply& m) {
      if (m.is_array() && m.elements().size() == 3 && m.elements()[0].str() == "message") {
        events->emplace(m.elements()[2].str(), steady_clock::now());
      }
    };
    auto subscribed = co_await subscriber->subscribe(channels, false, std::move(on_expired));
    if (!subscribed) {
      result.errors.push_back("cannot subscribe to expiry events: " + subscribed.error().message);
      subscriber.reset();
    }
  }

  auto listed = co_await list_replicas(ctx);
  if (!listed) {
    result.errors.push_back("listing replicas: " + listed.error().describe());
    co_return result;
  }
  const std::vector<ReplicaEndpoint>& replicas = listed.value();
  if (replicas.empty()) {
    result.add_not_applicable("replica_expiry_accuracy_ratio", "the target has no replicas");
  }
  // Connected before the keys are written: a connect during the "before" read could push that
  // read past the deadline.
  for (const auto& replica : replicas) {
    auto pong = co_await replica_connections_.to(ctx, replica).call("PING");
    if (!pong) {
      result.errors.push_back("replica " + replica.name + ": " + pong.error().describe());
      co_return result;
    }
  }

  std::vector<std::string> all = names("a");
  auto timing_names = names("t");
  auto reclaim_names = names("c");
  all.insert(all.end(), timing_names.begin(), timing_names.end());
  all.insert(all.end(), reclaim_names.begin(), reclaim_names.end());
  auto written = co_await write_keys(ctx, all, params_.ttl);
  if (!written) {
    result.errors.push_back("writing keys: " + written.error().describe());
    co_return result;
  }
  const auto n = static_cast<size_t>(params_.keys);
  std::vector<ExpiringKey> accuracy(written.value().begin(), written.value().begin() + n);
  std::vector<ExpiringKey> timing(written.value().begin() + n, written.value().begin() + 2 * n);
  std::vector<ExpiringKey> reclaim(written.value().begin() + 2 * n, written.value().end());
  const auto margin = std::chrono::duration_cast<SteadyTime::duration>(params_.margin);

  // Accuracy, part one: every key still readable just before its deadline, on the primary and on
  // every replica (which must have received it by then).
  // A read answered after the deadline may have run after it: such a late read (the daemon's
  // loop was held up longer than `margin`) proves nothing, and its run reports no accuracy.
  const SteadyTime deadline = earliest(accuracy);
  co_await sleep_until(deadline - margin);
  auto before = co_await count_presence(ctx.redis, accuracy, true);
  const bool before_in_time = steady_clock::now() < deadline;
  std::vector<Result<int>> replicas_before;
  std::vector<bool> replicas_in_time;
  for (const auto& replica : replicas) {
    auto replica_before =
        co_await count_presence(replica_connections_.to(ctx, replica), replica, accuracy, true);
    replicas_before.push_back(std::move(replica_before));
    replicas_in_time.push_back(steady_clock::now() < deadline);
  }
  // Timing: poll the timing keys through their deadline.
  auto timing_error = co_await worst_timing_error(ctx, timing, params_.poll_interval);
  // Accuracy, part two: every key gone just after its deadline.
  co_await sleep_until(latest(accuracy) + margin);
  auto after = co_await count_presence(ctx.redis, accuracy, false);
  // A replica never expires a key itself (it waits for the primary's DEL), but a read on it must
  // already answer nil once the deadline has passed on the replica's clock.
  for (size_t i = 0; i < replicas.size(); ++i) {
    auto replica_after = co_await count_presence(replica_connections_.to(ctx, replicas[i]),
                                                 replicas[i], accuracy, false);
    if (!replicas_in_time[i]) {
      result.add_not_applicable("replica_expiry_accuracy_ratio", kLateRead, replicas[i].name);
    } else if (replicas_before[i] && replica_after) {
      result.add("replica_expiry_accuracy_ratio",
                 static_cast<double>(replicas_before[i].value() + replica_after.value()) /
                     (2.0 * params_.keys),
                 replicas[i].name);
    } else {
      result.errors.push_back(
          "accuracy reads on " + replicas[i].name + ": " +
          (replicas_before[i] ? replica_after.error() : replicas_before[i].error()).describe());
    }
  }

  if (!before_in_time) {
    result.add_not_applicable("expiry_accuracy_ratio", kLateRead);
  } else if (before && after) {
    result.add("expiry_accuracy_ratio",
               static_cast<double>(before.value() + after.value()) / (2.0 * params_.keys));
  } else {
    result.errors.push_back("accuracy reads: " +
                            (before ? after.error() : before.error()).describe());
  }
  if (timing_error) {
    result.add("expiry_timing_error_seconds", timing_error.value());
  } else {
    result.errors.push_back("timing polls: " + timing_error.error().describe());
  }

  if (subscriber) {
    auto give_up = latest(reclaim) + params_.reclaim_window;
    auto all_seen = [&] {
      return std::all_of(reclaim.begin(), reclaim.end(),
                         [&](const ExpiringKey& k) { return events->count(k.name) > 0; });
    };
    while (!all_seen() && steady_clock::now() < give_up) {
      if (!co_await sleep_for(std::chrono::milliseconds(5))) break;
    }
    int seen = 0;
    double worst_delay = 0;
    for (const auto& k : reclaim) {
      auto it = events->find(k.name);
      if (it == events->end()) continue;
      ++seen;
      worst_delay = std::max(worst_delay, seconds_between(k.expected, it->second));
    }
    result.add("expired_reclaim_ratio", static_cast<double>(seen) / params_.keys);
    if (seen) result.add("reclaim_delay_seconds", std::max(0.0, worst_delay));
    if (!subscriber->subscribed()) result.notes.push_back("expiry event subscription dropped");
  }
  co_return result;
}

asio::awaitable<Status> TtlProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType ttl_probe_type() {
  return {
      .type = "ttl",
      .summary = "logical expiry accuracy, expiry timing error, memory reclaim of expired keys",
      .measurements = {"expiry_accuracy_ratio", "expiry_timing_error_seconds",
                       "expired_reclaim_ratio", "reclaim_delay_seconds",
                       "replica_expiry_accuracy_ratio"},
      .default_slas =
          {
              {"expiry_accuracy_ratio", ">= 0.995", 0.99, "TTL accuracy above 99.5%"},
              {"expiry_timing_error_seconds", "< 0.05", 0.99, "expiry timing error under 50 ms"},
              {"expired_reclaim_ratio", ">= 0.95", 0.99, "expired keys reclaimed (95%)"},
              {"replica_expiry_accuracy_ratio", ">= 0.995", 0.99,
               "replica reads honour TTLs (99.5%)"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        TtlParams p;
        p.keys = static_cast<int>(params.get_int("keys", p.keys, 1, 1000));
        p.ttl = params.get_duration("ttl", p.ttl, milliseconds(20), seconds(60));
        p.margin = params.get_duration("margin", p.margin, milliseconds(1), seconds(10));
        p.poll_interval = params.get_duration("poll_interval", p.poll_interval,
                                              std::chrono::microseconds(100), seconds(1));
        p.reclaim_window =
            params.get_duration("reclaim_window", p.reclaim_window, milliseconds(100), seconds(60));
        params.finish();
        if (p.margin * 2 >= p.ttl) {
          throw ConfigError(config.where, key_path + ".margin",
                            "margin " + format_duration(p.margin) + " must be under half the ttl " +
                                format_duration(p.ttl));
        }
        return std::make_unique<TtlProbe>(p);
      },
  };
}

}  // namespace chaosd
