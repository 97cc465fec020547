#include "probes/collision.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>

#include "config/params.h"
#include "probes/collision_hashed.h"
#include "probes/collision_value.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr const char* kValueTtlMs = kCollisionValueTtlMs;

// Writes KEYS[1] only when it is free or its stored owner is ARGV[1]; otherwise returns the
// owner found there (the collision), writing nothing.
constexpr const char* kCheckedSet =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then local owner = string.match(cur, '^v1|([^|]*)|') "
    "if owner ~= ARGV[1] then return owner or '?' end end "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1";
// The owner's restore: only if the key still holds the foreign value it saw.
constexpr const char* kRestore =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
std::string tenant_name(int t) { return collision_tenant(t); }

bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

asio::awaitable<void> run_all(std::vector<asio::awaitable<void>>& tasks) {
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, std::move(tasks.front()), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(tasks.size());
  for (auto& task : tasks) ops.push_back(asio::co_spawn(executor, std::move(task), asio::deferred));
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  [[maybe_unused]] auto outcome =
      co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

// Keyspace events for the run's namespace keys: key -> when its latest event arrived. Shared with
// the subscriber's handler, which may still run after the run ended.
struct KeyEvents {
  explicit KeyEvents(const asio::any_io_executor& executor) : wake(executor) {}
  std::unordered_map<std::string, SteadyTime> seen;
  asio::steady_timer wake;  // cancelled on every event, to wake the owner waiting for one
};

// Glob characters in a key prefix must not act as a pattern in PSUBSCRIBE.
std::string glob_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

struct CollisionProbe::Run {
  Run(ProbeContext& context, const CollisionParams& params) : ctx(context), p(params) {}
  ProbeContext& ctx;
  const CollisionParams& p;
  uint64_t number = 0;
  std::string base;                            // "<prefix>r<run>:"
  std::vector<std::vector<std::string>> last;  // [tenant][key]: the owner's last stored value
  int64_t unexpected_rejections = 0;           // an owner's own write rejected
  SteadyTime poll_origin{};                    // the owners' polling schedule starts here

  bool cancelled = false;
  std::optional<std::string> error;

  std::string namespace_key(int t, int k) const {
    return base + tenant_name(t) + ":k" + std::to_string(k);
  }
  std::string namespace_logical(int t, int k) const {
    return tenant_name(t) + ":k" + std::to_string(k);
  }
  void fail(int tenant, const Error& e) {
    if (e.code == ErrorCode::cancelled) {
      cancelled = true;
    } else if (!error) {
      error = "tenant " + tenant_name(tenant) + ": " + e.describe();
    }
  }
};

namespace {

using Run = CollisionProbe::Run;

// Every namespace key of tenant `t`, `rounds` times, through the owner-checking script.
asio::awaitable<void> write_namespace(Run& run, RedisConnection& connection, int t) {
  const std::string owner = tenant_name(t);
  for (int round = 1; round <= run.p.rounds; ++round) {
    std::vector<Command> writes;
    std::vector<std::string> values;
    for (int k = 0; k < run.p.keys_per_tenant; ++k) {
      const std::string logical = run.namespace_logical(t, k);
      values.push_back(encode_owned_value(owner, logical, round, run.number, run.p.value_bytes));
      writes.push_back(
          {"EVAL", kCheckedSet, "1", run.namespace_key(t, k), owner, values.back(), kValueTtlMs});
    }
    auto replies = co_await connection.pipeline(std::move(writes));
    for (size_t k = 0; k < replies.size(); ++k) {
      if (!replies[k]) {
        run.fail(t, replies[k].error());
        co_return;
      }
      if (replies[k].value().is_integer() && replies[k].value().integer() == 1) {
        run.last[static_cast<size_t>(t)][k] = values[k];
      } else {
        ++run.unexpected_rejections;
      }
    }
  }
}

asio::awaitable<void> write_hashed(Run& run, HashedKeys& hashed, RedisConnection& connection,
                                   int t) {
  auto written = co_await hashed.write(connection, t);
  if (!written) run.fail(t, written.error());
}

struct Intrusions {
  std::vector<double> checked_seconds, bypass_seconds;  // detection times (max_wait if missed)
  int checked_rejected = 0, bypass_detected = 0, bypass_restored = 0;
  int attempts = 0;
  std::vector<std::string> notes;
};

// Waits until the owner sees a foreign owner in `key`: on its keyspace events when `events`,
// else by reading all its keys every poll_interval. Returns the foreign value and the time it
// was seen, or nullopt at `deadline`.
asio::awaitable<Result<std::optional<std::pair<std::string, SteadyTime>>>> owner_detects(
    Run& run, RedisConnection& owner, int victim, int key_index, KeyEvents* events,
    SteadyTime deadline) {
  using Found = std::optional<std::pair<std::string, SteadyTime>>;
  const std::string me = tenant_name(victim);
  const std::string key = run.namespace_key(victim, key_index);
  while (steady_clock::now() < deadline) {
    std::vector<Command> reads;
    if (events != nullptr) {
      boost::system::error_code ec;
      while (!events->seen.contains(key) && steady_clock::now() < deadline) {
        events->wake.expires_at(deadline);
        co_await events->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        auto state = co_await asio::this_coro::cancellation_state;
        if (is_cancelled(state)) co_return Error{ErrorCode::cancelled, "cancelled"};
      }
      if (!events->seen.contains(key)) break;
      events->seen.erase(key);
      reads.push_back({"GET", key});
    } else {
      // The owner polls on its own schedule (a grid from the start of the intrusions), not
      // right after the intruder's write, which it cannot know about. It does not know which key
      // was hit either: it reads them all.
      const auto period = std::chrono::duration_cast<SteadyTime::duration>(run.p.poll_interval);
      const auto now = steady_clock::now();
      const auto next = run.poll_origin + ((now - run.poll_origin) / period + 1) * period;
      if (!co_await sleep_until(next)) co_return Error{ErrorCode::cancelled, "cancelled"};
      for (int k = 0; k < run.p.keys_per_tenant; ++k) {
        reads.push_back({"GET", run.namespace_key(victim, k)});
      }
    }
    auto replies = co_await owner.pipeline(std::move(reads));
    const auto seen_at = steady_clock::now();
    for (auto& reply : replies) {
      if (!reply) co_return reply.error();
      if (reply.value().is_nil()) continue;
      auto stored = parse_owned_value(reply.value().str());
      if (!stored || stored->owner != me) co_return Found{{reply.value().str(), seen_at}};
    }
  }
  co_return Found{};
}

// One intrusion: tenant `intruder` writes into a key of tenant `victim`, first through the
// owner check (must be rejected), then bypassing it (the owner must notice and restore).
asio::awaitable<Status> intrude(Run& run, std::vector<std::unique_ptr<RedisConnection>>& tenants,
                                int victim, int key_index, KeyEvents* events, Intrusions& out) {
  const int intruder = (victim + 1) % run.p.tenants;
  const std::string key = run.namespace_key(victim, key_index);
  const std::string intruder_name = tenant_name(intruder);
  const std::string foreign =
      encode_owned_value(intruder_name, run.namespace_logical(victim, key_index), 1,
                         run.number + 7919, run.p.value_bytes);
  const double missed = std::chrono::duration<double>(run.p.max_wait).count();
  ++out.attempts;

  Command checked{"EVAL", kCheckedSet, "1", key, intruder_name, foreign, kValueTtlMs};
  auto sent = steady_clock::now();
  auto answer = co_await tenants[static_cast<size_t>(intruder)]->command(std::move(checked));
  if (!answer) co_return answer.error();
  if (answer.value().is_string() && answer.value().str() == tenant_name(victim)) {
    out.checked_seconds.push_back(seconds_between(sent, steady_clock::now()));
    ++out.checked_rejected;
  } else {
    out.checked_seconds.push_back(missed);
    out.notes.push_back("the owner check let " + intruder_name + " write " + key + " (answer " +
                        answer.value().debug_string() + ")");
  }

  if (events != nullptr) events->seen.erase(key);
  Command bypass{"SET", key, foreign, "PX", kValueTtlMs};
  sent = steady_clock::now();
  auto written = co_await tenants[static_cast<size_t>(intruder)]->command(std::move(bypass));
  if (!written) co_return written.error();
  const auto deadline = sent + std::chrono::duration_cast<SteadyTime::duration>(run.p.max_wait);
  auto& owner = *tenants[static_cast<size_t>(victim)];
  auto found = co_await owner_detects(run, owner, victim, key_index, events, deadline);
  if (!found) co_return found.error();
  if (!found.value()) {
    out.bypass_seconds.push_back(missed);
    out.notes.push_back(tenant_name(victim) + " did not notice " + intruder_name +
                        "'s write into " + key + " within max_wait");
    co_return Ok{};
  }
  ++out.bypass_detected;
  out.bypass_seconds.push_back(seconds_between(sent, found.value()->second));
  const std::string& own = run.last[static_cast<size_t>(victim)][static_cast<size_t>(key_index)];
  Command restore{"EVAL", kRestore, "1", key, found.value()->first, own, kValueTtlMs};
  auto restored = co_await owner.command(std::move(restore));
  if (!restored) co_return restored.error();
  if (restored.value().is_integer() && restored.value().integer() == 1) ++out.bypass_restored;
  co_return Ok{};
}

void add_intrusions(ProbeResult& result, const Intrusions& in) {
  if (in.attempts == 0) {
    for (const char* subject : {"checked", "bypass"}) {
      result.add_not_applicable("collision_detection_seconds", "intrusions = 0", subject);
      result.add_not_applicable("collision_resolution_ratio", "intrusions = 0", subject);
    }
    return;
  }
  const double attempts = in.attempts;
  result.add("collision_detection_seconds",
             *std::max_element(in.checked_seconds.begin(), in.checked_seconds.end()), "checked");
  result.add("collision_resolution_ratio", in.checked_rejected / attempts, "checked");
  result.add("collisions_total", in.checked_rejected, "checked");
  result.add("collision_detection_seconds",
             *std::max_element(in.bypass_seconds.begin(), in.bypass_seconds.end()), "bypass");
  result.add("collision_resolution_ratio", in.bypass_restored / attempts, "bypass");
  result.add("collisions_total", in.bypass_detected, "bypass");
  result.notes.insert(result.notes.end(), in.notes.begin(), in.notes.end());
}

}  // namespace

asio::awaitable<Status> CollisionProbe::open_tenants(ProbeContext& ctx) {
  // The keys share the probe's hash tag: one node serves them; the tenants talk to it. On a
  // cluster whose slot map is not loaded yet, one routed PING loads it.
  Command ping{"PING"};
  if (!ctx.redis.node_for_key(ctx.key_prefix)) {
    auto pinged = co_await ctx.redis.command_for_key(std::move(ping), ctx.key_prefix);
    if (!pinged) co_return pinged.error();
  }
  ConnectionOptions options = ctx.target;
  if (auto node = ctx.redis.node_for_key(ctx.key_prefix)) {
    options.host = node->host;
    options.port = node->port;
  }
  NodeAddress where{options.host, options.port};
  if (tenants_node_ != where || tenants_.size() != static_cast<size_t>(params_.tenants)) {
    tenants_.clear();
    tenants_node_ = where;
    const std::string base_name = options.client_name;
    for (int t = 0; t < params_.tenants; ++t) {
      options.client_name = base_name + ":tenant" + std::to_string(t);
      tenants_.push_back(std::make_unique<RedisConnection>(ctx.executor, options));
    }
  }
  for (auto& tenant : tenants_) {
    auto connected = co_await tenant->ensure_connected();
    if (!connected) {
      tenants_node_.reset();
      co_return connected.error();
    }
  }
  co_return Ok{};
}

asio::awaitable<ProbeResult> CollisionProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  const CollisionParams& p = params_;
  Run run(ctx, p);
  run.number = ++run_number_;
  run.base = ctx.key_prefix + "r" + std::to_string(run.number) + ":";
  run.last.assign(static_cast<size_t>(p.tenants),
                  std::vector<std::string>(static_cast<size_t>(p.keys_per_tenant)));

  auto opened = co_await open_tenants(ctx);
  if (!opened) {
    result.errors.push_back("connecting the tenants: " + opened.error().describe());
    co_return result;
  }
  auto stopped = [&]() -> bool {
    if (run.cancelled) {
      result.errors.push_back("collision probe cancelled");
      return true;
    }
    if (run.error) {
      result.errors.push_back(*run.error);
      return true;
    }
    return false;
  };

  // Namespaces: all tenants at once, each through the owner check.
  std::vector<asio::awaitable<void>> writers;
  for (int t = 0; t < p.tenants; ++t) {
    writers.push_back(write_namespace(run, *tenants_[static_cast<size_t>(t)], t));
  }
  co_await run_all(writers);
  if (stopped()) co_return result;
  if (run.unexpected_rejections > 0) {
    result.notes.push_back(std::to_string(run.unexpected_rejections) +
                           " write(s) of an owner into its own key were rejected");
  }

  // Intrusions, one after the other, watched by keyspace events when the server emits them.
  std::shared_ptr<KeyEvents> events;
  std::unique_ptr<RedisConnection> subscriber;
  if (p.intrusions > 0) {
    Command config_get{"CONFIG", "GET", "notify-keyspace-events"};
    auto config = co_await ctx.redis.command_for_key(std::move(config_get), ctx.key_prefix);
    std::string flags;
    if (config && config.value().elements().size() == 2) flags = config.value().elements()[1].str();
    const bool keyspace = flags.find('K') != std::string::npos;
    const bool strings =
        flags.find('$') != std::string::npos || flags.find('A') != std::string::npos;
    if (!config) {
      result.notes.push_back("owners poll every " + format_duration(p.poll_interval) +
                             ": CONFIG GET failed (" + config.error().message + ")");
    } else if (!keyspace || !strings) {
      result.notes.push_back("owners poll every " + format_duration(p.poll_interval) +
                             ": the server emits no keyspace events for strings "
                             "(notify-keyspace-events \"" +
                             flags + "\" lacks K and $ or A)");
    } else {
      ConnectionOptions options = tenants_.front()->options();
      options.client_name = ctx.target.client_name + ":events";
      subscriber = std::make_unique<RedisConnection>(ctx.executor, options);
      events = std::make_shared<KeyEvents>(ctx.executor);
      const std::string channel_prefix = "__keyspace@" + std::to_string(options.db) + "__:";
      std::vector<std::string> patterns{channel_prefix + glob_escape(run.base) + "t*"};
      Link::MessageHandler on_event = [events, channel_prefix](const Reply& m) {
        if (!m.is_array() || m.elements().size() != 4 || m.elements()[0].str() != "pmessage") {
          return;
        }
        const std::string& channel = m.elements()[2].str();
        if (channel.compare(0, channel_prefix.size(), channel_prefix) != 0) return;
        events->seen[channel.substr(channel_prefix.size())] = steady_clock::now();
        events->wake.cancel();
      };
      auto subscribed = co_await subscriber->subscribe(patterns, true, std::move(on_event));
      if (!subscribed) {
        result.errors.push_back("cannot subscribe to keyspace events: " +
                                subscribed.error().message);
        co_return result;
      }
    }
  }
  Intrusions intrusions;
  run.poll_origin = steady_clock::now();
  for (int i = 0; i < p.intrusions; ++i) {
    const int victim = i % p.tenants;
    const int key_index = (i / p.tenants * 7 + i) % p.keys_per_tenant;
    auto done = co_await intrude(run, tenants_, victim, key_index, events.get(), intrusions);
    if (!done) {
      result.errors.push_back(done.error().code == ErrorCode::cancelled
                                  ? std::string("collision probe cancelled")
                                  : "intrusion " + std::to_string(i) + ": " +
                                        done.error().describe());
      co_return result;
    }
  }
  if (subscriber) subscriber->reset("intrusions done");
  if (events) {
    result.notes.push_back("owners watch their keys through keyspace notifications");
  }

  // Hashed keys: all tenants at once, through the chaining script.
  HashedKeys hashed(p, run.base, run.number);
  std::vector<asio::awaitable<void>> hashers;
  if (p.hashed_keys > 0) {
    for (int t = 0; t < p.tenants; ++t) {
      hashers.push_back(write_hashed(run, hashed, *tenants_[static_cast<size_t>(t)], t));
    }
    co_await run_all(hashers);
    if (stopped()) co_return result;
  }

  if (before_verify_) before_verify_(run.base);

  // Read back every namespace key: the owner's last write, intact.
  std::vector<Command> reads;
  for (int t = 0; t < p.tenants; ++t) {
    for (int k = 0; k < p.keys_per_tenant; ++k) reads.push_back({"GET", run.namespace_key(t, k)});
  }
  auto stored = co_await ctx.redis.pipeline(std::move(reads));
  int64_t intact = 0;
  std::optional<std::string> first_damage;
  for (int t = 0; t < p.tenants; ++t) {
    for (int k = 0; k < p.keys_per_tenant; ++k) {
      auto& reply = stored[static_cast<size_t>(t * p.keys_per_tenant + k)];
      if (!reply) {
        result.errors.push_back("reading back: " + reply.error().describe());
        co_return result;
      }
      const auto& last = run.last[static_cast<size_t>(t)][static_cast<size_t>(k)];
      auto damage = value_damage(reply.value().is_nil() ? nullptr : &reply.value().str(),
                                 tenant_name(t), run.namespace_logical(t, k), last);
      if (!damage) {
        ++intact;
      } else if (!first_damage) {
        first_damage = run.namespace_key(t, k) + ": " + *damage;
      }
    }
  }
  const double namespace_keys = static_cast<double>(p.tenants) * p.keys_per_tenant;
  result.add("value_integrity_ratio", static_cast<double>(intact) / namespace_keys, "namespace");
  if (first_damage) {
    result.notes.push_back(
        "namespace: " + std::to_string(static_cast<int64_t>(namespace_keys) - intact) +
        " damaged value(s) (first: " + *first_damage + ")");
  }
  add_intrusions(result, intrusions);

  if (p.hashed_keys > 0) {
    auto verified = co_await hashed.verify(ctx.redis, result);
    if (!verified) {
      result.errors.push_back("reading back hashed keys: " + verified.error().describe());
      co_return result;
    }
  }

  auto deleted = co_await delete_keys_with_prefix(ctx.redis, run.base);
  if (!deleted) result.errors.push_back("deleting its keys: " + deleted.error().describe());
  co_return result;
}

asio::awaitable<Status> CollisionProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType collision_probe_type() {
  return {
      .type = "collision",
      .summary =
          "colliding writes across tenant namespaces and truncated-hash keys: detection, "
          "resolution, value integrity",
      .measurements = {"collision_detection_seconds", "collision_resolution_ratio",
                       "value_integrity_ratio", "collisions_total"},
      .default_slas =
          {
              {"collision_detection_seconds", "< 0.01", 0.99,
               "a colliding write detected in 10 ms"},
              {"collision_resolution_ratio", ">= 0.99", 0.99, "99% of collisions resolved"},
              {"value_integrity_ratio", ">= 1", 0.99, "every value intact by its checksum"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        ParamReader params(config.params, key_path, config.where.file);
        CollisionParams p;
        p.tenants = static_cast<int>(params.get_int("tenants", p.tenants, 2, 64));
        p.keys_per_tenant =
            static_cast<int>(params.get_int("keys_per_tenant", p.keys_per_tenant, 1, 1000));
        p.rounds = static_cast<int>(params.get_int("rounds", p.rounds, 1, 100));
        p.intrusions = static_cast<int>(params.get_int("intrusions", p.intrusions, 0, 100));
        p.hashed_keys = static_cast<int>(params.get_int("hashed_keys", p.hashed_keys, 0, 10000));
        p.hash_bits = static_cast<int>(params.get_int("hash_bits", p.hash_bits, 4, 32));
        p.max_chain = static_cast<int>(params.get_int("max_chain", p.max_chain, 1, 16));
        p.value_bytes = static_cast<int>(params.get_int("value_bytes", p.value_bytes, 1, 65536));
        p.poll_interval =
            params.get_duration("poll_interval", p.poll_interval, std::chrono::microseconds(100),
                                std::chrono::seconds(1));
        p.max_wait = params.get_duration("max_wait", p.max_wait, std::chrono::milliseconds(10),
                                         std::chrono::seconds(10));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        if (p.poll_interval >= p.max_wait) {
          fail("poll_interval", "poll_interval " + format_duration(p.poll_interval) +
                                    " must be under max_wait " + format_duration(p.max_wait));
        }
        if (p.intrusions * p.max_wait >= config.timeout) {
          fail("max_wait", "a run may wait " + format_duration(p.intrusions * p.max_wait) +
                               " (intrusions x max_wait), not under the probe timeout " +
                               format_duration(config.timeout) +
                               ": lower max_wait or intrusions, or raise timeout");
        }
        return std::make_unique<CollisionProbe>(p);
      },
  };
}

}  // namespace chaosd
