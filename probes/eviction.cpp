#include "probes/eviction.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr size_t kChunk = 1000;  // commands per pipeline, keys per EXISTS

const std::vector<std::string> kMeasurements = {
    "eviction_latency_seconds", "hot_set_survival_ratio", "eviction_efficiency_ratio",
    "hit_rate_recovery_ratio", "evicted_keys_total"};

bool is_oom(const Error& e) {
  return e.code == ErrorCode::redis_error && e.message.rfind("OOM", 0) == 0;
}

}  // namespace

// One run: its key names and what it saw.
struct EvictionProbe::Run {
  std::vector<std::string> hot, cold;
  std::string value;
  std::string ttl_ms;
  int64_t maxmemory = 0;
  int64_t key_bytes = 0;  // payload of one key: name + value

  std::optional<int64_t> evicted_before;
  int hits_before = 0;
  std::vector<double> latencies;  // lone commands sent while the server was evicting
  bool evicting = false;
  size_t cold_written = 0;
};

namespace {

// GETs every key (pipelined in chunks): which are present. Cancellation and transport errors
// are errors; so is an error reply.
asio::awaitable<Result<std::vector<bool>>> present(ProbeContext& ctx,
                                                   const std::vector<std::string>& keys) {
  std::vector<bool> out;
  out.reserve(keys.size());
  for (size_t from = 0; from < keys.size(); from += kChunk) {
    std::vector<Command> gets;
    for (size_t i = from; i < std::min(keys.size(), from + kChunk); ++i) {
      gets.push_back({"GET", keys[i]});
    }
    auto replies = co_await ctx.redis.pipeline(std::move(gets));
    for (auto& reply : replies) {
      if (!reply) co_return reply.error();
      out.push_back(!reply.value().is_nil());
    }
  }
  co_return out;
}

// One command sent alone; timed when the server is evicting (an OOM reply is a reply too).
asio::awaitable<Result<Reply>> timed(ProbeContext& ctx, EvictionProbe::Run& run, Command command) {
  auto sent = steady_clock::now();
  auto reply = co_await ctx.redis.command(std::move(command));
  if (run.evicting && (reply || is_oom(reply.error()))) {
    run.latencies.push_back(seconds_between(sent, steady_clock::now()));
  }
  co_return reply;
}

// Records why the run stops; always false (the run cannot go on).
bool failed(ProbeResult& result, const char* what, const Error& e) {
  result.errors.push_back(e.code == ErrorCode::cancelled ? "eviction probe cancelled"
                                                         : std::string(what) + ": " + e.describe());
  return false;
}

int count_true(const std::vector<bool>& flags) {
  return static_cast<int>(std::count(flags.begin(), flags.end(), true));
}

// Writes `keys` with the run's value and TTL. OOM replies are counted (the server could not
// evict), any other error ends the write.
asio::awaitable<Result<int>> write(ProbeContext& ctx, const EvictionProbe::Run& run,
                                   const std::vector<std::string>& keys, size_t from, size_t to) {
  int refused = 0;
  for (size_t start = from; start < to; start += kChunk) {
    std::vector<Command> sets;
    for (size_t i = start; i < std::min(to, start + kChunk); ++i) {
      sets.push_back({"SET", keys[i], run.value, "PX", run.ttl_ms});
    }
    auto replies = co_await ctx.redis.pipeline(std::move(sets));
    for (auto& reply : replies) {
      if (reply) continue;
      if (!is_oom(reply.error())) co_return reply.error();
      ++refused;
    }
  }
  co_return refused;
}

// Keys of `keys` that still exist, with multi-key EXISTS (all of them hash to one slot).
asio::awaitable<Result<int64_t>> existing(ProbeContext& ctx, const std::vector<std::string>& keys) {
  std::vector<Command> checks;
  for (size_t from = 0; from < keys.size(); from += kChunk) {
    Command exists{"EXISTS"};
    exists.insert(exists.end(), keys.begin() + static_cast<std::ptrdiff_t>(from),
                  keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), from + kChunk)));
    checks.push_back(std::move(exists));
  }
  auto replies = co_await ctx.redis.pipeline(std::move(checks));
  int64_t count = 0;
  for (auto& reply : replies) {
    if (!reply) co_return reply.error();
    count += reply.value().integer();
  }
  co_return count;
}

}  // namespace

// Reads the eviction counter, writes the hot set and reads it once (the hit rate before).
asio::awaitable<bool> EvictionProbe::prepare(ProbeContext& ctx, Run& run, ProbeResult& result) {
  auto before = co_await read_evicted_keys(ctx);
  if (!before) co_return failed(result, "INFO stats", before.error());
  run.evicted_before = before.value();
  auto written = co_await write(ctx, run, run.hot, 0, run.hot.size());
  if (!written) co_return failed(result, "writing the hot set", written.error());
  auto hot = co_await present(ctx, run.hot);
  if (!hot) co_return failed(result, "reading the hot set", hot.error());
  run.hits_before = count_true(hot.value());
  co_return true;
}

// Writes the cold keys in batches spread over pressure_duration, reading the hot set every
// hot_read_interval. False when the run must stop (its error is in `result`).
asio::awaitable<bool> EvictionProbe::pressure(ProbeContext& ctx, Run& run, ProbeResult& result) {
  const size_t batch = static_cast<size_t>(params_.batch_keys);
  const size_t batches = (run.cold.size() + batch - 1) / batch;
  const auto start = steady_clock::now();
  auto next_hot_read = start + to_steady(params_.hot_read_interval);
  size_t hot_turn = 0;
  auto fail = [&](const char* what, const Error& e) { return failed(result, what, e); };
  for (size_t b = 0; b < batches; ++b) {
    const auto b_of_n = static_cast<int64_t>(b);
    const auto due =
        start + to_steady(params_.pressure_duration) * b_of_n / static_cast<int64_t>(batches);
    if (!co_await sleep_until(due)) {
      co_return fail("", Error{ErrorCode::cancelled, "cancelled"});
    }
    const size_t from = b * batch;
    const size_t to = std::min(run.cold.size(), from + batch);
    // All but the batch's last key pipelined; the last one alone, timed.
    auto refused = co_await write(ctx, run, run.cold, from, to - 1);
    if (!refused) co_return fail("writing cold keys", refused.error());
    Command lone_set{"SET", run.cold[to - 1], run.value, "PX", run.ttl_ms};
    auto set = co_await timed(ctx, run, std::move(lone_set));
    if (!set && !is_oom(set.error())) co_return fail("writing a cold key", set.error());
    Command lone_get{"GET", run.hot[hot_turn++ % run.hot.size()]};
    auto get = co_await timed(ctx, run, std::move(lone_get));
    if (!get) co_return fail("reading a hot key", get.error());
    run.cold_written = to;
    if (refused.value() > 0 || !set) {
      // Nothing left that the policy may evict (e.g. volatile-* with memory full of keys
      // without a TTL): pressure cannot go on.
      result.errors.push_back("the server refused writes with OOM after " + std::to_string(to) +
                              " cold keys: it found nothing (more) to evict");
      co_return true;
    }
    if (!run.evicting) {
      // Evicting once the node says so, or once the payload alone is over maxmemory.
      auto evicted = co_await read_evicted_keys(ctx);
      if (!evicted) co_return fail("INFO stats", evicted.error());
      const int64_t written = static_cast<int64_t>(run.hot.size() + to) * run.key_bytes;
      run.evicting =
          (evicted.value() && run.evicted_before && *evicted.value() > *run.evicted_before) ||
          written > run.maxmemory;
    }
    if (steady_clock::now() >= next_hot_read) {
      auto hot = co_await present(ctx, run.hot);
      if (!hot) co_return fail("reading the hot set", hot.error());
      next_hot_read = steady_clock::now() + to_steady(params_.hot_read_interval);
    }
  }
  co_return true;
}

// After the pressure: survival, efficiency, evictions, then the cache-aside re-warm and the
// recovered hit rate. False when the run must stop (its error is in `result`).
asio::awaitable<bool> EvictionProbe::measure(ProbeContext& ctx, Run& run, ProbeResult& result) {
  auto fail = [&](const char* what, const Error& e) { return failed(result, what, e); };
  auto evicted_after = co_await read_evicted_keys(ctx);
  if (!evicted_after) co_return fail("INFO stats", evicted_after.error());
  auto hot_left = co_await present(ctx, run.hot);
  if (!hot_left) co_return fail("reading the hot set", hot_left.error());
  run.cold.resize(run.cold_written);
  auto cold_left = co_await existing(ctx, run.cold);
  if (!cold_left) co_return fail("counting cold keys", cold_left.error());

  if (!run.latencies.empty()) {
    result.add("eviction_latency_seconds", p99(run.latencies));
  } else {
    result.add_not_applicable("eviction_latency_seconds",
                              "no command was timed while the server was evicting");
  }
  const double hot_total = static_cast<double>(run.hot.size());
  const int survivors = count_true(hot_left.value());
  result.add("hot_set_survival_ratio", survivors / hot_total);
  // Keys expire only after the run (key_ttl > timeout): a key gone is a key evicted.
  const double hot_evicted = 1 - survivors / hot_total;
  const double cold_evicted = run.cold.empty() ? 0
                                               : 1 - static_cast<double>(cold_left.value()) /
                                                         static_cast<double>(run.cold.size());
  if (cold_evicted > 0) {
    result.add("eviction_efficiency_ratio", std::clamp(1 - hot_evicted / cold_evicted, 0.0, 1.0));
  } else {
    result.add_not_applicable("eviction_efficiency_ratio", "no cold key was evicted");
  }
  if (evicted_after.value() && run.evicted_before) {
    result.add("evicted_keys_total",
               static_cast<double>(*evicted_after.value() - *run.evicted_before));
  } else {
    result.add_not_applicable("evicted_keys_total", "INFO stats is refused or has no evicted_keys");
  }

  // Recovery: the application re-writes the hot keys it missed, then reads them again.
  std::vector<std::string> missing;
  for (size_t i = 0; i < run.hot.size(); ++i) {
    if (!hot_left.value()[i]) missing.push_back(run.hot[i]);
  }
  auto rewarmed = co_await write(ctx, run, missing, 0, missing.size());
  if (!rewarmed) co_return fail("re-writing the hot set", rewarmed.error());
  auto hot_after = co_await present(ctx, run.hot);
  if (!hot_after) co_return fail("reading the hot set again", hot_after.error());
  if (run.hits_before > 0) {
    double ratio = static_cast<double>(count_true(hot_after.value())) / run.hits_before;
    result.add("hit_rate_recovery_ratio", std::min(ratio, 1.0));
  } else {
    result.add_not_applicable("hit_rate_recovery_ratio", "no hot key was readable before");
  }
  if (run.hits_before < static_cast<int>(run.hot.size())) {
    result.notes.push_back("only " + std::to_string(run.hits_before) + " of " +
                           std::to_string(run.hot.size()) +
                           " hot keys were readable right after being written: the node was "
                           "already full (is the hot set larger than its memory?)");
  }
  co_return true;
}

asio::awaitable<ProbeResult> EvictionProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto not_applicable = [&](const std::string& reason) {
    for (const auto& name : kMeasurements) result.add_not_applicable(name, reason);
  };
  auto limits = co_await read_memory_limits(ctx);
  if (!limits) {
    if (limits.error().code == ErrorCode::redis_error ||
        limits.error().code == ErrorCode::protocol) {
      not_applicable("cannot read maxmemory: " + limits.error().message);
    } else {
      result.errors.push_back("reading maxmemory: " + limits.error().describe());
    }
    co_return result;
  }
  const MemoryLimits& memory = limits.value();
  const std::string run_tag = "r" + std::to_string(++run_number_) + ":";
  // Key names are "<prefix>r<run>:c<i>": 8 characters cover "c" and any index a run can have.
  auto plan = plan_fill(memory, params_, ctx.key_prefix.size() + run_tag.size() + 8);
  if (const auto* reason = std::get_if<std::string>(&plan)) {
    not_applicable(*reason);
    co_return result;
  }
  const FillPlan& fill = std::get<FillPlan>(plan);
  Run run;
  run.maxmemory = memory.maxmemory;
  run.value.assign(static_cast<size_t>(params_.value_bytes), 'v');
  run.ttl_ms = to_ms(params_.key_ttl);
  run.key_bytes = fill.key_bytes;
  if (memory.source != "CONFIG GET") {
    result.notes.push_back("maxmemory and its policy read from " + memory.source +
                           " (CONFIG GET is refused)");
  }
  for (int i = 0; i < params_.hot_keys; ++i) {
    run.hot.push_back(ctx.key_prefix + run_tag + "h" + std::to_string(i));
  }
  for (int64_t i = 0; i < fill.cold_keys; ++i) {
    run.cold.push_back(ctx.key_prefix + run_tag + "c" + std::to_string(i));
  }

  bool going = co_await prepare(ctx, run, result);
  if (going) going = co_await pressure(ctx, run, result);
  if (going) co_await measure(ctx, run, result);
  // The run's keys would hold the node at maxmemory until their TTL: free it now.
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() == asio::cancellation_type::none) {
    auto deleted = co_await delete_probe_keys(ctx);
    if (!deleted) result.errors.push_back("deleting its keys: " + deleted.error().describe());
  }
  co_return result;
}

asio::awaitable<Status> EvictionProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType eviction_probe_type() {
  return {
      .type = "eviction",
      .summary = "hot-set survival, command latency and hit-rate recovery under eviction",
      .measurements = kMeasurements,
      .default_slas =
          {
              {"eviction_latency_seconds", "< 0.05", 0.99, "commands under eviction within 50 ms"},
              {"hot_set_survival_ratio", ">= 0.85", 0.99, "the hot set survives eviction"},
              {"eviction_efficiency_ratio", ">= 0.85", 0.99, "evictions spare the hot set"},
              {"hit_rate_recovery_ratio", ">= 0.8", 0.99, "hot-set hit rate recovers"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        EvictionParams p;
        p.hot_keys = static_cast<int>(params.get_int("hot_keys", p.hot_keys, 1, 100'000));
        p.value_bytes = static_cast<int>(params.get_int("value_bytes", p.value_bytes, 16, 1 << 20));
        p.fill_factor = params.get_double("fill_factor", p.fill_factor, 1.1, 4.0);
        p.pressure_duration = params.get_duration("pressure_duration", p.pressure_duration,
                                                  milliseconds(100), seconds(60));
        p.hot_read_interval = params.get_duration("hot_read_interval", p.hot_read_interval,
                                                  milliseconds(1), seconds(10));
        p.batch_keys = static_cast<int>(params.get_int("batch_keys", p.batch_keys, 2, 10'000));
        p.key_ttl = params.get_duration("key_ttl", p.key_ttl, seconds(1), std::chrono::hours(1));
        p.max_fill_bytes =
            params.get_int("max_fill_bytes", p.max_fill_bytes, int64_t{1} << 20, int64_t{1} << 32);
        p.max_fill_keys = params.get_int("max_fill_keys", p.max_fill_keys, 1000, 10'000'000);
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        if (int64_t{p.hot_keys} * p.value_bytes > p.max_fill_bytes) {
          fail("hot_keys", "the hot set alone (hot_keys x value_bytes) exceeds max_fill_bytes " +
                               std::to_string(p.max_fill_bytes) + ": every run would be refused");
        }
        if (p.hot_keys + p.batch_keys > p.max_fill_keys) {
          fail("max_fill_keys",
               "max_fill_keys must leave room for hot_keys plus one batch (batch_keys)");
        }
        if (p.pressure_duration + seconds(1) > config.timeout) {
          fail("pressure_duration", "pressure_duration " + format_duration(p.pressure_duration) +
                                        " plus 1s for the writes, checks and key deletion "
                                        "must fit in the probe timeout " +
                                        format_duration(config.timeout) +
                                        ": lower it or raise timeout");
        }
        if (p.key_ttl <= config.timeout) {
          // A key that expires mid-run would be counted as evicted.
          fail("key_ttl", "key_ttl " + format_duration(p.key_ttl) +
                              " must exceed the probe timeout " + format_duration(config.timeout) +
                              " (keys must not expire during a run)");
        }
        return std::make_unique<EvictionProbe>(p);
      },
  };
}

}  // namespace chaosd
