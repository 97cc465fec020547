#include "probes/warming.h"

#include <algorithm>
#include <unordered_set>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Records why the run stops; always false.
bool failed(ProbeResult& result, const std::string& what, const Error& e) {
  result.errors.push_back(e.code == ErrorCode::cancelled ? "warming probe cancelled"
                                                         : what + ": " + e.describe());
  return false;
}

}  // namespace

WarmingProbe::WarmingProbe(WarmingParams params)
    : params_(params), pattern_(make_access_pattern(params.pattern)) {
  for (WarmStrategy strategy : kWarmStrategies) {
    warm_sets_.push_back(
        choose_warm_set(strategy, pattern_, static_cast<size_t>(params_.warm_keys)));
  }
}

std::string WarmingProbe::key_of(const ProbeContext& ctx, uint32_t item) const {
  return ctx.key_prefix + "item:" + std::to_string(item);
}

std::string WarmingProbe::value_of(uint32_t item) const {
  std::string value = "item:" + std::to_string(item) + ":";
  value.resize(std::max(value.size(), static_cast<size_t>(params_.value_bytes)), '.');
  return value;
}

// Cache-aside reads of items nobody warmed: GET (a miss), fetch from the source (source_latency),
// SET. Each read is timed from its GET to its SET's reply.
asio::awaitable<bool> WarmingProbe::cold_reads(ProbeContext& ctx, ProbeResult& result) {
  std::vector<double> seconds;
  std::unordered_set<uint32_t> seen;
  const std::string ttl = to_ms(params_.key_ttl);
  for (uint32_t item : pattern_.replay) {
    if (seconds.size() >= static_cast<size_t>(params_.latency_samples)) break;
    if (!seen.insert(item).second) continue;
    const std::string key = key_of(ctx, item);
    const std::string value = value_of(item);
    const auto start = steady_clock::now();
    auto got = co_await ctx.redis.call("GET", key);
    if (!got) co_return failed(result, "cold read", got.error());
    if (!got.value().is_nil()) continue;  // not cold after all: no sample
    const bool slept = co_await sleep_for(params_.source_latency);
    if (!slept) co_return failed(result, "", Error{ErrorCode::cancelled, "cancelled"});
    auto set = co_await ctx.redis.call("SET", key, value, "PX", ttl);
    if (!set) co_return failed(result, "cold read's SET", set.error());
    seconds.push_back(seconds_between(start, steady_clock::now()));
  }
  if (seconds.empty()) {
    result.add_not_applicable("cold_read_seconds", "no read missed on the flushed namespace");
  } else {
    result.add("cold_read_seconds", median(seconds));
  }
  co_return true;
}

// GETs of warmed items sent one at a time; only hits are timed.
asio::awaitable<bool> WarmingProbe::warm_reads(ProbeContext& ctx, WarmStrategy strategy,
                                               ProbeResult& result) {
  const auto& warmed = warm_sets_[static_cast<size_t>(strategy)];
  std::vector<double> seconds;
  for (size_t i = 0; i < warmed.size() && i < static_cast<size_t>(params_.latency_samples); ++i) {
    const std::string key = key_of(ctx, warmed[i]);
    const auto start = steady_clock::now();
    auto got = co_await ctx.redis.call("GET", key);
    if (!got) co_return failed(result, "warm read", got.error());
    if (!got.value().is_nil()) seconds.push_back(seconds_between(start, steady_clock::now()));
  }
  if (seconds.empty()) {
    result.add_not_applicable("warm_read_seconds", "no warmed key was there to read");
  } else {
    result.add("warm_read_seconds", median(seconds));
  }
  co_return true;
}

// Flush, warm with the strategy's choice, replay. Adds the strategy's three measurements.
asio::awaitable<bool> WarmingProbe::measure_strategy(ProbeContext& ctx, WarmStrategy strategy,
                                                     ProbeResult& result) {
  const std::string name = to_string(strategy);
  const auto& warmed = warm_sets_[static_cast<size_t>(strategy)];
  auto flushed = co_await delete_probe_keys(ctx);
  if (!flushed) co_return failed(result, "flushing the namespace", flushed.error());

  const std::string ttl = to_ms(params_.key_ttl);
  const auto batch = static_cast<size_t>(params_.batch_keys);
  const auto warm_start = steady_clock::now();
  for (size_t from = 0; from < warmed.size(); from += batch) {
    std::vector<Command> sets;
    for (size_t i = from; i < std::min(warmed.size(), from + batch); ++i) {
      sets.push_back({"SET", key_of(ctx, warmed[i]), value_of(warmed[i]), "PX", ttl});
    }
    auto replies = co_await ctx.redis.pipeline(std::move(sets));
    for (auto& reply : replies) {
      if (!reply) co_return failed(result, "warming (" + name + ")", reply.error());
    }
  }
  result.add("warm_time_seconds", seconds_between(warm_start, steady_clock::now()), name);

  if (params_.replay_delay > Duration::zero()) {
    const bool slept = co_await sleep_for(params_.replay_delay);
    if (!slept) co_return failed(result, "", Error{ErrorCode::cancelled, "cancelled"});
  }
  std::unordered_set<uint32_t> warm_set(warmed.begin(), warmed.end());
  std::unordered_set<uint32_t> used;  // warmed items the replay read at least once
  int64_t hits = 0;
  int64_t wrong_values = 0;
  const auto& replay = pattern_.replay;
  for (size_t from = 0; from < replay.size(); from += batch) {
    std::vector<Command> gets;
    const size_t to = std::min(replay.size(), from + batch);
    for (size_t i = from; i < to; ++i) gets.push_back({"GET", key_of(ctx, replay[i])});
    auto replies = co_await ctx.redis.pipeline(std::move(gets));
    for (size_t i = from; i < to; ++i) {
      auto& reply = replies[i - from];
      if (!reply) co_return failed(result, "replaying reads (" + name + ")", reply.error());
      if (reply.value().is_nil()) continue;
      if (reply.value().str() != value_of(replay[i])) {
        ++wrong_values;  // a hit only counts when it serves the source's value
        continue;
      }
      ++hits;
      if (warm_set.count(replay[i]) > 0) used.insert(replay[i]);
    }
  }
  result.add("hit_rate_ratio", static_cast<double>(hits) / static_cast<double>(replay.size()),
             name);
  result.add("warming_efficiency_ratio",
             static_cast<double>(used.size()) / static_cast<double>(warmed.size()), name);
  if (wrong_values > 0) {
    result.notes.push_back(name + ": " + std::to_string(wrong_values) +
                           " replayed reads found a value that is not the source's");
  }
  co_return true;
}

asio::awaitable<ProbeResult> WarmingProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto flushed = co_await delete_probe_keys(ctx);
  if (!flushed) {
    failed(result, "flushing the namespace", flushed.error());
    co_return result;
  }
  bool going = co_await cold_reads(ctx, result);
  for (WarmStrategy strategy : kWarmStrategies) {
    if (going) going = co_await measure_strategy(ctx, strategy, result);
  }
  if (going) going = co_await warm_reads(ctx, kWarmStrategies[2], result);
  if (going) {
    auto deleted = co_await delete_probe_keys(ctx);
    if (!deleted) failed(result, "deleting its keys", deleted.error());
  }
  co_return result;
}

asio::awaitable<Status> WarmingProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType warming_probe_type() {
  return {
      .type = "warming",
      .summary = "time to warm a cache and the hit rate each warming strategy earns",
      .measurements = {"warm_time_seconds", "hit_rate_ratio", "warming_efficiency_ratio",
                       "cold_read_seconds", "warm_read_seconds"},
      .default_slas =
          {
              {"warm_time_seconds", "< 2", 0.99, "warm_keys warmed within 2 s"},
              {"hit_rate_ratio", ">= 0.8", 0.99, "hit rate after the warm of at least 80%"},
              {"warming_efficiency_ratio", "> 0.9", 0.99, "over 90% of warmed keys are used"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        WarmingParams p;
        AccessPatternParams& a = p.pattern;
        a.source_keys =
            static_cast<int>(params.get_int("source_keys", a.source_keys, 10, 1'000'000));
        p.warm_keys = static_cast<int>(params.get_int("warm_keys", p.warm_keys, 1, 100'000));
        a.history_reads =
            static_cast<int>(params.get_int("history_reads", a.history_reads, 1, 1'000'000));
        a.replay_reads =
            static_cast<int>(params.get_int("replay_reads", a.replay_reads, 1, 1'000'000));
        a.zipf_exponent = params.get_double("zipf_exponent", a.zipf_exponent, 0.0, 5.0);
        a.trend = params.get_double("trend", a.trend, 0.0, 1.0);
        a.trending_keys =
            static_cast<int>(params.get_int("trending_keys", a.trending_keys, 0, 100'000));
        a.seed = static_cast<uint64_t>(
            params.get_int("seed", static_cast<int64_t>(a.seed), 0, INT64_MAX));
        p.value_bytes = static_cast<int>(params.get_int("value_bytes", p.value_bytes, 1, 65536));
        p.batch_keys = static_cast<int>(params.get_int("batch_keys", p.batch_keys, 1, 10'000));
        p.key_ttl = params.get_duration("key_ttl", p.key_ttl, seconds(1), std::chrono::hours(24));
        p.replay_delay =
            params.get_duration("replay_delay", p.replay_delay, Duration::zero(), seconds(10));
        p.source_latency =
            params.get_duration("source_latency", p.source_latency, Duration::zero(), seconds(1));
        p.latency_samples =
            static_cast<int>(params.get_int("latency_samples", p.latency_samples, 1, 1000));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        if (p.warm_keys > a.source_keys) {
          fail("warm_keys", "cannot warm more keys than the source has (source_keys " +
                                std::to_string(a.source_keys) + ")");
        }
        if (a.trending_keys >= a.source_keys) {
          fail("trending_keys", "trending_keys must be fewer than source_keys");
        }
        if (p.key_ttl <= config.timeout) {
          // A warmed key that expires before its replay would count as a miss.
          fail("key_ttl", "key_ttl " + format_duration(p.key_ttl) +
                              " must exceed the probe timeout " + format_duration(config.timeout) +
                              " (keys must not expire during a run)");
        }
        const Duration sleeps = 3 * p.replay_delay + p.latency_samples * p.source_latency;
        if (sleeps >= config.timeout) {
          fail("replay_delay", "3 x replay_delay + latency_samples x source_latency (" +
                                   format_duration(sleeps) + ") must fit in the probe timeout " +
                                   format_duration(config.timeout));
        }
        return std::make_unique<WarmingProbe>(p);
      },
  };
}

}  // namespace chaosd
