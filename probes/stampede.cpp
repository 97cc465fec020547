#include "probes/stampede.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <cstdlib>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// Deletes the lock only while it still carries this holder's token: a holder whose lock expired
// must not release the lock of the reader that took over.
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";
// The recompute counter only has to outlive one run.
constexpr const char* kCounterTtlMs = "60000";

}  // namespace

// One stampede on one key: shared by the readers, which all run on the loop thread.
struct StampedeProbe::Round {
  explicit Round(const asio::any_io_executor& executor) : release(executor) {}
  std::string key, lock, recomputes;
  std::string token_prefix;  // "<run>:<key>:"; a reader's token appends its index
  int readers = 0;
  bool dead_holder = false;  // a holder takes the lock first and never writes
  Duration wait_budget{};    // how long a reader waits for the value after its miss
  Duration compute{};
  Duration poll_interval{};
  std::string lock_ttl_ms, value_ttl_ms;
  asio::steady_timer release;  // every reader waits on it; the last one ready cancels it
  int ready = 0;

  std::vector<double> lock_acquire_seconds;  // per winner: miss to lock granted
  std::vector<SteadyTime> lock_granted_at;
  std::vector<double> wait_seconds;  // per served reader: miss to value in hand
  SteadyTime dead_lock_sent{};
  int64_t recomputations = 0;  // the server's count
  int timed_out = 0;
  bool cancelled = false;
  std::optional<std::string> error;

  void fail(int reader, const RedisConnection& connection, const Error& e) {
    if (e.code == ErrorCode::cancelled) {
      cancelled = true;
    } else if (!error) {
      const auto& o = connection.options();
      error = "reader " + std::to_string(reader) + " (" + NodeAddress{o.host, o.port}.to_string() +
              "): " + e.describe();
    }
  }
};

namespace {

using Round = StampedeProbe::Round;

// The lock holder's path: check the value once more (the previous holder may have published it
// and released the lock between our GET and our SET NX), and only if it is still missing count
// the computation, compute and publish. Releases the lock either way. True when it computed.
asio::awaitable<Result<bool>> recompute(Round& round, RedisConnection& connection,
                                        const std::string& token) {
  Command recheck{"GET", round.key};
  auto present = co_await connection.command(std::move(recheck));
  if (!present) co_return present.error();
  const bool missing = present.value().is_nil();
  if (missing) {
    std::vector<Command> count{{"INCR", round.recomputes},
                               {"PEXPIRE", round.recomputes, kCounterTtlMs}};
    auto counted = co_await connection.pipeline(std::move(count));
    for (auto& reply : counted) {
      if (!reply) co_return reply.error();
    }
    if (!co_await sleep_for(round.compute)) co_return Error{ErrorCode::cancelled, "cancelled"};
    Command write{"SET", round.key, "computed-by:" + token, "PX", round.value_ttl_ms};
    auto written = co_await connection.command(std::move(write));
    if (!written) co_return written.error();
  }
  Command unlock{"EVAL", kReleaseScript, "1", round.lock, token};
  auto released = co_await connection.command(std::move(unlock));
  if (!released) co_return released.error();
  co_return missing;
}

// From the miss until this reader holds the value (or gives up after the round's wait budget).
asio::awaitable<Status> serve_miss(Round& round, RedisConnection& connection, int index) {
  const auto miss = steady_clock::now();
  const auto give_up = miss + to_steady(round.wait_budget);
  const std::string token = round.token_prefix + std::to_string(index);
  const Command get{"GET", round.key};
  const Command take{"SET", round.lock, token, "NX", "PX", round.lock_ttl_ms};
  for (;;) {
    Command get_now = get;
    auto seen = co_await connection.command(std::move(get_now));
    if (!seen) co_return seen.error();
    if (!seen.value().is_nil()) break;
    // Still missing: try to become the one that recomputes (again after a holder's lock expired).
    Command take_now = take;
    auto taken = co_await connection.command(std::move(take_now));
    if (!taken) co_return taken.error();
    if (taken.value().is_ok_status()) {
      auto granted = steady_clock::now();
      auto computed = co_await recompute(round, connection, token);
      if (!computed) co_return computed.error();
      if (computed.value()) {
        round.lock_acquire_seconds.push_back(seconds_between(miss, granted));
        round.lock_granted_at.push_back(granted);
      }
      break;
    }
    if (steady_clock::now() >= give_up) {
      ++round.timed_out;
      co_return Ok{};
    }
    if (!co_await sleep_for(round.poll_interval))
      co_return Error{ErrorCode::cancelled, "cancelled"};
  }
  round.wait_seconds.push_back(seconds_between(miss, steady_clock::now()));
  co_return Ok{};
}

asio::awaitable<void> read_hot_key(Round& round, RedisConnection& connection, int index) {
  // Connect (or check the link) before the stampede so that every reader starts on a live link.
  Command ping{"PING"};
  auto pinged = co_await connection.command(std::move(ping));
  if (!pinged) round.fail(index, connection, pinged.error());
  if (++round.ready == round.readers) {
    round.release.cancel();
  } else {
    boost::system::error_code ec;
    co_await round.release.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto state = co_await asio::this_coro::cancellation_state;
    if (cancelled(state)) {
      round.cancelled = true;
      co_return;
    }
  }
  if (!pinged) co_return;
  auto served = co_await serve_miss(round, connection, index);
  if (!served) round.fail(index, connection, served.error());
}

asio::awaitable<Result<int64_t>> read_counter(ProbeContext& ctx, const Round& round) {
  auto reply = co_await ctx.redis.call("GET", round.recomputes);
  if (!reply) co_return reply.error();
  // The probe alone writes this key, with INCR: nil or a decimal integer.
  co_return reply.value().is_nil() ? int64_t{0}
                                   : std::strtoll(reply.value().str().c_str(), nullptr, 10);
}

}  // namespace

void StampedeProbe::open_readers(ProbeContext& ctx) {
  // On a cluster the readers talk straight to the node serving the probe's slot.
  ConnectionOptions options = ctx.target;
  if (auto node = ctx.redis.node_for_key(ctx.key_prefix)) {
    options.host = node->host;
    options.port = node->port;
  }
  NodeAddress where{options.host, options.port};
  if (readers_node_ == where && readers_.size() == static_cast<size_t>(params_.readers)) return;
  readers_.clear();
  readers_node_ = where;
  const std::string base_name = options.client_name;
  for (int i = 0; i < params_.readers; ++i) {
    options.client_name = base_name + ":reader" + std::to_string(i);
    readers_.push_back(std::make_unique<RedisConnection>(ctx.executor, options));
  }
}

// Prepares the round's keys, releases every reader at once and waits for all of them, even when
// the run is cancelled: the readers use `round`, which lives in the caller's frame.
asio::awaitable<void> StampedeProbe::stampede(ProbeContext& ctx, Round& round) {
  // Every key of the round starts missing: the value, a stale lock, the counter.
  auto deleted = co_await ctx.redis.call("DEL", round.key, round.lock, round.recomputes);
  if (!deleted) {
    round.error = "deleting its keys: " + deleted.error().describe();
    co_return;
  }
  // After a command: a cluster client knows the slot's owner only once it has the slot map.
  open_readers(ctx);
  if (round.dead_holder) {
    round.dead_lock_sent = steady_clock::now();
    auto held =
        co_await ctx.redis.call("SET", round.lock, "dead-holder", "NX", "PX", round.lock_ttl_ms);
    if (!held || !held.value().is_ok_status()) {
      round.error = "taking the dead holder's lock: " +
                    (held ? held.value().debug_string() : held.error().describe());
      co_return;
    }
  }
  // A fallback in case a reader never reports ready: its connect is bounded by these timeouts.
  round.release.expires_after(to_steady(ctx.target.connect_timeout + ctx.target.command_timeout) +
                              std::chrono::seconds(1));
  using ReaderOp =
      decltype(asio::co_spawn(ctx.executor, read_hot_key(round, *readers_[0], 0), asio::deferred));
  std::vector<ReaderOp> ops;
  for (int i = 0; i < round.readers; ++i) {
    ops.push_back(
        asio::co_spawn(ctx.executor, read_hot_key(round, *readers_[i], i), asio::deferred));
  }
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  auto outcome = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const auto& thrown : std::get<1>(outcome)) {
    // Cancellation surfaces as an operation_aborted exception from a reader's next wait.
    if (thrown && !round.error && !round.cancelled) round.error = "a reader threw an exception";
  }
  // The slot moved under the readers: look its owner up again next time.
  if (round.error && round.error->find("MOVED") != std::string::npos) readers_node_.reset();
  if (round.cancelled || round.error) co_return;
  auto counted = co_await read_counter(ctx, round);
  if (!counted) {
    round.error = "reading the recompute counter: " + counted.error().describe();
  } else {
    round.recomputations = counted.value();
  }
}

asio::awaitable<ProbeResult> StampedeProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  const std::string run_tag = std::to_string(++run_number_);
  auto init = [&](Round& round, const std::string& name, Duration wait_budget) {
    round.key = ctx.key_prefix + name;
    round.lock = round.key + ":lock";
    round.recomputes = round.key + ":recomputes";
    round.token_prefix = run_tag + ":" + name + ":";
    round.readers = params_.readers;
    round.wait_budget = wait_budget;
    round.compute = params_.compute;
    round.poll_interval = params_.poll_interval;
    round.lock_ttl_ms = to_ms(params_.lock_ttl);
    round.value_ttl_ms = to_ms(params_.value_ttl);
  };
  // A round ends the run when it was cancelled or could not be measured.
  auto finished_badly = [&](const Round& round, bool cancelled_now) {
    if (round.cancelled || cancelled_now) {
      result.errors.push_back("stampede probe cancelled");
      return true;
    }
    if (round.error) {
      result.errors.push_back("stampede on " + round.key + ": " + *round.error);
      return true;
    }
    return false;
  };

  std::vector<double> acquire, waits;
  int64_t recomputations = 0;
  int useful = 0;
  int timed_out = 0;
  double prevention_sum = 0;
  for (int k = 0; k < params_.hot_keys; ++k) {
    Round round(ctx.executor);
    init(round, "hot" + std::to_string(k), params_.max_wait);
    co_await stampede(ctx, round);
    auto state = co_await asio::this_coro::cancellation_state;
    if (finished_badly(round, cancelled(state))) co_return result;
    const int64_t r = round.recomputations;
    recomputations += r;
    // A computation is useful when its value reached the readers; every other one was waste.
    if (r > 0 && !round.wait_seconds.empty()) ++useful;
    double extra = static_cast<double>(std::max<int64_t>(r - 1, 0));
    prevention_sum += std::max(0.0, 1 - extra / (params_.readers - 1));  // readers >= 2
    acquire.insert(acquire.end(), round.lock_acquire_seconds.begin(),
                   round.lock_acquire_seconds.end());
    waits.insert(waits.end(), round.wait_seconds.begin(), round.wait_seconds.end());
    timed_out += round.timed_out;
  }
  result.add("recomputations_per_expiry", static_cast<double>(recomputations) / params_.hot_keys);
  result.add("stampede_prevention_ratio", prevention_sum / params_.hot_keys);
  if (recomputations > 0) {
    result.add("computation_efficiency_ratio", static_cast<double>(useful) / recomputations);
  }
  if (!acquire.empty()) result.add("lock_acquire_seconds", p99(acquire));
  if (!waits.empty()) result.add("reader_wait_seconds", p99(waits));
  if (timed_out > 0) {
    result.notes.push_back(std::to_string(timed_out) + " reader(s) had no value within max_wait " +
                           format_duration(params_.max_wait));
  }

  if (params_.holder_death) {
    // The holder takes the lock and dies: only the lock's TTL lets a reader take over.
    Round round(ctx.executor);
    init(round, "dead-holder", params_.lock_ttl + params_.max_wait);
    round.dead_holder = true;
    co_await stampede(ctx, round);
    auto state = co_await asio::this_coro::cancellation_state;
    if (finished_badly(round, cancelled(state))) co_return result;
    if (round.lock_granted_at.empty()) {
      result.notes.push_back("no reader took over the dead holder's lock within " +
                             format_duration(params_.lock_ttl + params_.max_wait));
    } else {
      auto first = *std::min_element(round.lock_granted_at.begin(), round.lock_granted_at.end());
      result.add("takeover_seconds", seconds_between(round.dead_lock_sent, first));
    }
  }
  co_return result;
}

asio::awaitable<Status> StampedeProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType stampede_probe_type() {
  return {
      .type = "stampede",
      .summary = "single-flight recomputation of an expired hot key under concurrent misses",
      .measurements = {"recomputations_per_expiry", "stampede_prevention_ratio",
                       "lock_acquire_seconds", "computation_efficiency_ratio",
                       "reader_wait_seconds", "takeover_seconds"},
      .default_slas =
          {
              {"recomputations_per_expiry", "== 1", 0.99, "one recomputation per expiry"},
              {"stampede_prevention_ratio", ">= 0.999", 0.99, "stampedes prevented (100%)"},
              {"lock_acquire_seconds", "< 0.01", 0.99, "recompute lock granted within 10 ms"},
              {"computation_efficiency_ratio", "> 0.95", 0.99, "no wasted recomputation"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        StampedeParams p;
        p.hot_keys = static_cast<int>(params.get_int("hot_keys", p.hot_keys, 1, 100));
        p.readers = static_cast<int>(params.get_int("readers", p.readers, 2, 1000));
        p.compute = params.get_duration("compute", p.compute, milliseconds(0), seconds(10));
        p.lock_ttl = params.get_duration("lock_ttl", p.lock_ttl, milliseconds(10), seconds(60));
        p.value_ttl =
            params.get_duration("value_ttl", p.value_ttl, milliseconds(100), seconds(3600));
        p.max_wait = params.get_duration("max_wait", p.max_wait, milliseconds(10), seconds(60));
        p.poll_interval = params.get_duration("poll_interval", p.poll_interval,
                                              std::chrono::microseconds(100), seconds(1));
        p.holder_death = params.get_bool("holder_death", p.holder_death);
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        if (p.lock_ttl <= p.compute) {
          // The lock would expire mid-computation and let a second reader recompute.
          fail("lock_ttl", "lock_ttl " + format_duration(p.lock_ttl) +
                               " must exceed the compute time " + format_duration(p.compute));
        }
        if (p.value_ttl <= p.max_wait + p.lock_ttl) {
          fail("value_ttl", "value_ttl " + format_duration(p.value_ttl) +
                                " must exceed max_wait + lock_ttl (" +
                                format_duration(p.max_wait + p.lock_ttl) +
                                ") or the value expires while readers still wait");
        }
        Duration worst =
            p.hot_keys * p.max_wait + (p.holder_death ? p.lock_ttl + p.max_wait : Duration{0});
        if (worst >= config.timeout) {
          fail("max_wait", "a run may take " + format_duration(worst) +
                               " (hot_keys x max_wait, plus lock_ttl + max_wait with "
                               "holder_death), not under the probe timeout " +
                               format_duration(config.timeout) +
                               ": lower max_wait or hot_keys, or raise timeout");
        }
        return std::make_unique<StampedeProbe>(p);
      },
  };
}

}  // namespace chaosd
