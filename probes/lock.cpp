#include "probes/lock.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// Acquire and fence in one step: a holder's fence is taken while it holds the lock, so fences of
// one lock must strictly increase in acquisition order. Returns nil when the lock is taken.
constexpr const char* kAcquireScript =
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then local fence = "
    "redis.call('incr', KEYS[2]) redis.call('pexpire', KEYS[2], ARGV[3]) return fence end "
    "return false";
// Delete only if still ours: a holder whose lease expired must not free its successor's lock.
constexpr const char* kReleaseScript =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 "
    "end";

// What every coroutine of one run shares. Lives in LockProbe::run's frame, which outlives them.
struct RunState {
  ProbeContext& ctx;
  const LockParams& params;
  std::mt19937_64& random;
  std::string lease_ms;
  std::string fence_ttl_ms;
  std::string token_prefix;
  uint64_t tokens = 0;
  bool cancelled = false;  // the run was cancelled (probe timeout, stop): every loop ends
  int64_t errors = 0;
  int64_t lost_leases = 0;  // releases that found the lock no longer ours
  std::string first_error;

  std::string lock_key(const std::string& name) const { return ctx.key_prefix + "lock:" + name; }
  std::string token(int worker) {
    return token_prefix + std::to_string(worker) + ":" + std::to_string(++tokens);
  }
  void fail(const Error& e) {
    if (e.code == ErrorCode::cancelled) cancelled = true;
    if (e.code != ErrorCode::cancelled && errors++ == 0) first_error = e.describe();
  }
  Duration retry_delay() {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return std::chrono::duration_cast<Duration>(params.retry_interval * jitter(random));
  }
  Duration hold_delay() {
    std::uniform_int_distribution<int64_t> pick(0, params.hold_time.count());
    return Duration(pick(random));
  }
};

// One attempt: the fence when acquired, nullopt when someone else holds the lock.
asio::awaitable<Result<std::optional<int64_t>>> try_acquire(RunState& run, RedisConnection& conn,
                                                            const std::string& name,
                                                            const std::string& token) {
  const std::string key = run.lock_key(name);
  Command eval{"EVAL",       kAcquireScript,  "2", key, run.ctx.key_prefix + "fence:" + name, token,
               run.lease_ms, run.fence_ttl_ms};
  auto reply = co_await conn.command_for_key(std::move(eval), key);
  if (!reply) co_return reply.error();
  if (reply.value().is_nil()) co_return std::optional<int64_t>{};
  if (reply.value().is_integer()) co_return std::optional<int64_t>{reply.value().integer()};
  co_return Error{ErrorCode::protocol, "acquire script answered " + reply.value().debug_string()};
}

// Retries until acquired (the fence) or `give_up` passes or the run is cancelled (nullopt).
// `sent`, if given, receives when the successful attempt was sent: its lease started later.
asio::awaitable<std::optional<int64_t>> acquire(RunState& run, RedisConnection& conn,
                                                const std::string& name, const std::string& token,
                                                SteadyTime give_up, SteadyTime* sent = nullptr) {
  while (!run.cancelled) {
    const auto attempted = steady_clock::now();
    auto attempt = co_await try_acquire(run, conn, name, token);
    if (attempt && attempt.value()) {
      if (sent != nullptr) *sent = attempted;
      co_return attempt.value();
    }
    if (!attempt) run.fail(attempt.error());
    if (run.cancelled || steady_clock::now() >= give_up) break;
    if (!co_await sleep_for(run.retry_delay())) run.cancelled = true;
  }
  co_return std::nullopt;
}

asio::awaitable<void> release(RunState& run, RedisConnection& conn, const std::string& name,
                              const std::string& token) {
  const std::string key = run.lock_key(name);
  Command eval{"EVAL", kReleaseScript, "1", key, token};
  auto reply = co_await conn.command_for_key(std::move(eval), key);
  if (!reply) run.fail(reply.error());
  if (reply && reply.value().integer() == 0) ++run.lost_leases;
}

// --- contention ---

struct Contention {
  std::vector<int> holder;  // per lock: the worker holding it as far as this process knows, or -1
  std::vector<int64_t> last_fence;  // per lock
  std::vector<double> acquire_seconds;
  SteadyTime deadline;
  int64_t acquisitions = 0;
  int64_t timeouts = 0;
  int64_t violations = 0;
};

asio::awaitable<void> contend(RunState& run, Contention& c, RedisConnection& conn, int worker) {
  const LockParams& p = run.params;
  std::uniform_int_distribution<int> pick(0, p.locks - 1);
  while (!run.cancelled && steady_clock::now() < c.deadline &&
         (p.max_acquisitions == 0 || c.acquisitions < p.max_acquisitions)) {
    const int m = pick(run.random);
    const std::string name = std::to_string(m);
    const std::string token = run.token(worker);
    const auto started = steady_clock::now();
    auto fence = co_await acquire(run, conn, name, token, started + p.acquire_timeout);
    if (!fence) {
      if (!run.cancelled) ++c.timeouts;
      continue;
    }
    c.acquire_seconds.push_back(seconds_between(started, steady_clock::now()));
    ++c.acquisitions;
    int& holder = c.holder[static_cast<size_t>(m)];
    int64_t& last_fence = c.last_fence[static_cast<size_t>(m)];
    if (holder != -1) ++c.violations;          // someone still works under this lock
    if (*fence <= last_fence) ++c.violations;  // a stale or repeated fencing token
    holder = worker;
    last_fence = std::max(last_fence, *fence);
    const Duration hold = run.hold_delay();
    if (hold > Duration::zero() && !co_await sleep_for(hold)) run.cancelled = true;
    if (holder == worker) holder = -1;  // done working: the lock is free to take
    co_await release(run, conn, name, token);
  }
}

// --- deadlock ---

struct Deadlock {
  // With `by_timeout`, nobody looks for the cycle: party n gives up its second lock after
  // (n + 1) x deadlock_timeout, so party 0 backs off first and party 1 gets through.
  bool by_timeout = false;
  LockWaitForGraph graph;
  int holding = 0;  // parties holding their first lock
  bool aborted = false;
  int victim = -1;
  std::optional<double> detection_seconds;
  std::optional<SteadyTime> cycle_formed;    // both parties wait for the other's lock
  std::optional<double> resolution_seconds;  // cycle formed -> a party holds its second lock
  bool survivor_acquired = false;
};

asio::awaitable<void> deadlock_party(RunState& run, Deadlock& d, RedisConnection& conn, int me,
                                     std::string first, std::string second) {
  const std::string token = run.token(me);
  const auto timeout = run.params.acquire_timeout;
  if (!co_await acquire(run, conn, first, token, steady_clock::now() + timeout)) {
    d.aborted = true;
    co_return;
  }
  d.graph.holder[first] = me;
  d.graph.holding_since[me] = steady_clock::now();
  ++d.holding;
  // Both must hold their first lock before either asks for its second: only then is it a cycle.
  auto give_up = steady_clock::now() + timeout;
  while (d.holding < 2 && !d.aborted && !run.cancelled && steady_clock::now() < give_up) {
    if (!co_await sleep_for(run.retry_delay())) run.cancelled = true;
  }
  if (d.holding == 2 && !run.cancelled) {
    d.graph.waits_for[me] = {second, steady_clock::now()};
    if (d.graph.waits_for.size() == 2) d.cycle_formed = steady_clock::now();
    give_up =
        steady_clock::now() + (d.by_timeout ? run.params.deadlock_timeout * (me + 1) : timeout);
    while (!run.cancelled && d.victim != me) {
      auto attempt = co_await try_acquire(run, conn, second, token);
      if (attempt && attempt.value()) {
        d.survivor_acquired = true;
        if (d.cycle_formed) {
          d.resolution_seconds = seconds_between(*d.cycle_formed, steady_clock::now());
        }
        co_await release(run, conn, second, token);
        break;
      }
      if (!attempt) run.fail(attempt.error());
      if (!d.by_timeout && !d.detection_seconds) {
        if (auto cycle = d.graph.cycle_through(me)) {
          d.detection_seconds = seconds_between(cycle->formed, steady_clock::now());
          d.victim = cycle->youngest;  // the younger holder gives way
        }
      }
      if (d.victim == me || steady_clock::now() >= give_up) break;
      if (!co_await sleep_for(run.retry_delay())) run.cancelled = true;
    }
    d.graph.waits_for.erase(me);
  }
  d.graph.holder.erase(first);
  co_await release(run, conn, first, token);
}

// --- resource ordering ---

// Two parties need the same two locks. Each takes them in `order` (sorted: the same global order
// for both, which makes a wait-for cycle impossible); a cycle seen in the graph is counted and
// broken by the party that saw it backing off.
struct Ordering {
  LockWaitForGraph graph;
  int cycles = 0;
  int completed = 0;  // parties that held both locks
};

asio::awaitable<void> ordered_party(RunState& run, Ordering& o, RedisConnection& conn, int me,
                                    std::vector<std::string> order) {
  const std::string token = run.token(me);
  std::vector<std::string> held;
  bool backed_off = false;
  for (const auto& lock : order) {
    o.graph.waits_for[me] = {lock, steady_clock::now()};
    const auto give_up = steady_clock::now() + run.params.acquire_timeout;
    bool acquired = false;
    while (!run.cancelled && steady_clock::now() < give_up) {
      auto attempt = co_await try_acquire(run, conn, lock, token);
      if (!attempt) run.fail(attempt.error());
      if (attempt && attempt.value()) {
        acquired = true;
        break;
      }
      if (o.graph.cycle_through(me)) {
        ++o.cycles;
        backed_off = true;
        break;
      }
      if (!co_await sleep_for(run.retry_delay())) run.cancelled = true;
    }
    o.graph.waits_for.erase(me);
    if (!acquired) break;
    o.graph.holder[lock] = me;
    o.graph.holding_since[me] = steady_clock::now();
    held.push_back(lock);
    // Hold the first lock a moment, so that the other party really comes to wait.
    if (held.size() == 1 && !co_await sleep_for(run.params.retry_interval * 5)) {
      run.cancelled = true;
    }
  }
  if (held.size() == order.size() && !backed_off) ++o.completed;
  for (auto it = held.rbegin(); it != held.rend(); ++it) {
    o.graph.holder.erase(*it);
    co_await release(run, conn, *it, token);
  }
}

}  // namespace

std::optional<LockWaitForGraph::Cycle> LockWaitForGraph::cycle_through(int start) const {
  // A worker that waits while holding nothing has no "since" (it cannot be part of a cycle,
  // but the walk may start from it).
  auto since = [&](int worker) {
    auto it = holding_since.find(worker);
    return it == holding_since.end() ? SteadyTime::min() : it->second;
  };
  Cycle cycle{SteadyTime::min(), start};
  int w = start;
  for (size_t step = 0; step <= waits_for.size(); ++step) {
    auto edge = waits_for.find(w);
    if (edge == waits_for.end()) return std::nullopt;
    cycle.formed = std::max(cycle.formed, edge->second.second);
    if (since(w) > since(cycle.youngest)) cycle.youngest = w;
    auto next = holder.find(edge->second.first);
    if (next == holder.end()) return std::nullopt;
    w = next->second;
    if (w == start) return cycle;
  }
  return std::nullopt;
}

asio::awaitable<ProbeResult> LockProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  const LockParams& p = params_;
  // All lock keys share the probe's hash tag: one node serves them; the workers talk to it. On a
  // cluster whose slot map is not loaded yet, one routed PING loads it.
  Command ping{"PING"};
  if (!ctx.redis.node_for_key(ctx.key_prefix)) {
    (void)co_await ctx.redis.command_for_key(std::move(ping), ctx.key_prefix);
  }
  ConnectionOptions options = ctx.target;
  if (auto node = ctx.redis.node_for_key(ctx.key_prefix)) {
    options.host = node->host;
    options.port = node->port;
  }
  std::vector<std::unique_ptr<RedisConnection>> connections;
  const int parties = std::max(p.workers, 2);  // the scenarios need two workers
  for (int i = 0; i < parties; ++i) {
    ConnectionOptions named = options;
    named.client_name = ctx.target.client_name + ":lock" + std::to_string(i);
    connections.push_back(std::make_unique<RedisConnection>(ctx.executor, named));
    auto connected = co_await connections.back()->ensure_connected();
    if (!connected) {
      result.errors.push_back("connecting lock worker " + std::to_string(i) + " to " +
                              options.host + ":" + std::to_string(options.port) + ": " +
                              connected.error().describe());
      co_return result;
    }
  }

  RunState run{ctx, p, random_};
  run.lease_ms = to_ms(p.lease);
  // Fences must outlive every lock of the run so that they keep increasing; still, a TTL.
  run.fence_ttl_ms =
      to_ms(p.duration + p.acquire_timeout * 4 + p.lease * 4 + std::chrono::minutes(1));
  run.token_prefix = std::to_string(++run_number_) + ":" + std::to_string(random_()) + ":";

  Contention contention;
  contention.holder.assign(static_cast<size_t>(p.locks), -1);
  contention.last_fence.assign(static_cast<size_t>(p.locks), 0);
  const auto started = steady_clock::now();
  contention.deadline = started + std::chrono::duration_cast<steady_clock::duration>(p.duration);
  std::vector<asio::awaitable<void>> workers;
  workers.reserve(connections.size());
  for (int i = 0; i < p.workers; ++i) {
    workers.push_back(contend(run, contention, *connections[static_cast<size_t>(i)], i));
  }
  co_await run_all(workers);  // a worker that threw has left what it measured in RunState
  const double elapsed = seconds_between(started, steady_clock::now());
  if (run.cancelled) co_return result;
  if (!contention.acquire_seconds.empty()) {
    result.add("lock_acquire_p99_seconds", p99(contention.acquire_seconds));
  }
  result.add("lock_throughput_per_second",
             elapsed > 0 ? static_cast<double>(contention.acquisitions) / elapsed : 0);
  result.add("lock_timeouts_total", static_cast<double>(contention.timeouts));
  result.add("lock_acquisitions_total", static_cast<double>(contention.acquisitions));

  // Deadlock: worker 0 holds a and wants b, worker 1 holds b and wants a.
  Deadlock deadlock;
  std::vector<asio::awaitable<void>> parties_of_cycle;
  parties_of_cycle.push_back(deadlock_party(run, deadlock, *connections[0], 0, "dl:a", "dl:b"));
  parties_of_cycle.push_back(deadlock_party(run, deadlock, *connections[1], 1, "dl:b", "dl:a"));
  co_await run_all(parties_of_cycle);
  if (run.cancelled) co_return result;
  if (!deadlock.detection_seconds) {
    result.errors.push_back("deadlock scenario: no wait-for cycle formed or was detected");
  } else {
    result.add("deadlock_detection_seconds", *deadlock.detection_seconds);
    if (!deadlock.survivor_acquired) {
      result.errors.push_back("deadlock detected but the surviving worker never got its lock");
    }
  }

  // The same cycle, resolved by acquire timeouts alone (no detector): the first party to time
  // out lets the other through.
  Deadlock timed_out;
  timed_out.by_timeout = true;
  std::vector<asio::awaitable<void>> parties_by_timeout;
  parties_by_timeout.push_back(
      deadlock_party(run, timed_out, *connections[0], 0, "dlt:a", "dlt:b"));
  parties_by_timeout.push_back(
      deadlock_party(run, timed_out, *connections[1], 1, "dlt:b", "dlt:a"));
  co_await run_all(parties_by_timeout);
  if (run.cancelled) co_return result;
  if (!timed_out.resolution_seconds) {
    result.errors.push_back("timeout scenario: the cycle was not resolved by timeouts");
  } else {
    result.add("deadlock_timeout_resolution_seconds", *timed_out.resolution_seconds);
  }

  // Resource ordering: both parties need locks a and b and take them in one global order.
  Ordering ordering;
  std::vector<std::string> ascending{"ord:a", "ord:b"};
  std::vector<std::string> second_order = ascending;
  if (!p.ordered) std::reverse(second_order.begin(), second_order.end());
  std::vector<asio::awaitable<void>> ordered;
  ordered.push_back(ordered_party(run, ordering, *connections[0], 0, ascending));
  ordered.push_back(ordered_party(run, ordering, *connections[1], 1, second_order));
  co_await run_all(ordered);
  if (run.cancelled) co_return result;
  result.add("ordered_deadlocks_total", static_cast<double>(ordering.cycles));
  result.add("ordered_completion_ratio", ordering.completed / 2.0);

  // Lease expiry: worker 0 takes the lock and dies; worker 1 waits for the lease to run out.
  const std::string lease_lock = "lease";
  const std::string dead_token = run.token(0);
  const std::string heir_token = run.token(1);
  SteadyTime died{};  // the dead holder's request was sent: its lease cannot have started earlier
  auto dead_fence = co_await acquire(run, *connections[0], lease_lock, dead_token,
                                     steady_clock::now() + p.acquire_timeout, &died);
  std::optional<int64_t> heir_fence;
  if (dead_fence) {
    heir_fence = co_await acquire(run, *connections[1], lease_lock, heir_token,
                                  died + p.lease + p.acquire_timeout);
  }
  if (run.cancelled) co_return result;
  if (!dead_fence) {
    result.errors.push_back("lease scenario: the first holder could not acquire");
  } else if (!heir_fence) {
    result.errors.push_back("lease scenario: no worker took a dead holder's lock within " +
                            format_duration(p.lease + p.acquire_timeout));
  } else {
    result.add("lease_expiry_recovery_seconds", seconds_between(died, steady_clock::now()));
    if (*heir_fence <= *dead_fence) ++contention.violations;  // the heir got a stale fence
    co_await release(run, *connections[1], lease_lock, heir_token);
  }
  result.add("lock_safety_violations_total", static_cast<double>(contention.violations));
  if (run.errors > 0) {
    result.errors.push_back(std::to_string(run.errors) +
                            " lock commands failed; first: " + run.first_error);
  }
  const std::string lost = std::to_string(run.lost_leases) + " releases came after lease expiry";
  if (run.lost_leases > 0) result.notes.push_back(lost);
  co_return result;
}

asio::awaitable<Status> LockProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType lock_probe_type() {
  return {
      .type = "lock",
      .summary =
          "distributed lock contention: acquire p99, throughput, fencing safety, "
          "deadlock detection, lease expiry recovery",
      .measurements = {"lock_acquire_p99_seconds", "lock_throughput_per_second",
                       "lock_safety_violations_total", "lock_timeouts_total",
                       "lock_acquisitions_total", "deadlock_detection_seconds",
                       "deadlock_timeout_resolution_seconds", "ordered_deadlocks_total",
                       "ordered_completion_ratio", "lease_expiry_recovery_seconds"},
      .default_slas =
          {
              {"lock_acquire_p99_seconds", "< 0.05", 0.99, "lock acquire p99 under 50 ms"},
              {"lock_throughput_per_second", "> 1000", 0.99, "over 1000 locks/s"},
              {"lock_safety_violations_total", "== 0", 1.0, "no two holders, fences increase"},
              {"deadlock_detection_seconds", "< 0.1", 0.99, "wait-for cycle found in 100 ms"},
              {"ordered_deadlocks_total", "== 0", 0.99, "ordered acquisition never deadlocks"},
              {"lease_expiry_recovery_seconds", "< 0.5", 0.99, "dead holder's lock reusable"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        LockParams p;
        p.workers = static_cast<int>(params.get_int("workers", p.workers, 1, 256));
        p.locks = static_cast<int>(params.get_int("locks", p.locks, 1, 1024));
        p.duration = params.get_duration("duration", p.duration, milliseconds(10), seconds(60));
        p.max_acquisitions = params.get_int("max_acquisitions", p.max_acquisitions, 0, 100'000'000);
        p.lease = params.get_duration("lease", p.lease, milliseconds(10), seconds(60));
        p.acquire_timeout =
            params.get_duration("acquire_timeout", p.acquire_timeout, milliseconds(1), seconds(60));
        p.hold_time = params.get_duration("hold_time", p.hold_time, Duration::zero(), seconds(10));
        p.retry_interval = params.get_duration("retry_interval", p.retry_interval,
                                               std::chrono::microseconds(100), seconds(1));
        p.deadlock_timeout = params.get_duration("deadlock_timeout", p.deadlock_timeout,
                                                 milliseconds(1), seconds(10));
        p.ordered = params.get_bool("ordered", p.ordered);
        params.finish();
        if (p.hold_time >= p.lease) {
          throw ConfigError(config.where, key_path + ".hold_time",
                            "hold_time " + format_duration(p.hold_time) +
                                " must be under the lease " + format_duration(p.lease) +
                                " (a holder would outlive its lock)");
        }
        return std::make_unique<LockProbe>(p);
      },
  };
}

}  // namespace chaosd
