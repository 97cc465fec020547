#include "probes/reshard.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "config/params.h"
#include "daemon/redis/cluster_redis_client.h"
#include "daemon/redis/crc16.h"
#include "daemon/redis/slot_migration.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr size_t kBatch = 500;  // GETs per read-back pipeline, keys per UNLINK
constexpr const char* kMeasurements[] = {"unavailability_seconds", "acked_readable_ratio",
                                         "throughput_degradation_ratio", "slots_moved_total"};

std::vector<ClusterEndpoint> seeds_of(const TargetConfig& target) {
  std::vector<ClusterEndpoint> seeds;
  for (const auto& seed : target.seeds) seeds.push_back({seed.host, seed.port});
  if (seeds.empty()) seeds.push_back({target.host, target.port});
  return seeds;
}

bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

enum Phase { kBaseline = 0, kMove = 1, kAfter = 2 };

}  // namespace

// The workers' and the controller's shared state; everything runs on the loop thread.
struct ReshardProbe::Workload {
  ClusterClient* cluster = nullptr;
  uint16_t slot = 0;
  std::string key_base;    // "<prefix>r:<run>:"
  std::string value_base;  // "<run>:"
  std::string ttl_ms;
  Duration op_interval{};

  bool stop = false;
  bool cancelled = false;
  Phase phase = kBaseline;
  SteadyTime phase_start[3]{};
  SteadyTime end{};
  ClusterCounters counters_at[3]{};

  uint64_t next_seq = 0;
  std::vector<uint64_t> acked;  // sequence numbers whose SET was acknowledged
  int64_t ops[3] = {0, 0, 0};   // successful operations per phase
  SteadyTime last_success{};
  double longest_gap_seconds = 0;
  int64_t failed_ops = 0;
  int64_t read_mismatches = 0;
  std::optional<std::string> first_failure;
  std::string owner;  // the slot's owner as the workload's client last saw it
  int owner_changes[3] = {0, 0, 0};

  int slots_moved = 0;  // moves made by the probe
  std::vector<std::string> move_notes;
  std::optional<std::string> move_error;

  void succeeded() {
    auto now = steady_clock::now();
    longest_gap_seconds = std::max(longest_gap_seconds, seconds_between(last_success, now));
    last_success = now;
    ++ops[phase];
  }
  void failed(const std::string& what) {
    ++failed_ops;
    if (!first_failure) first_failure = what;
  }
  void look_at_owner() {
    auto node = cluster->node_for_slot(slot);
    std::string now = node ? node->address() : std::string("(none)");
    if (!owner.empty() && now != owner) ++owner_changes[phase];
    owner = now;
  }
  void enter(Phase p) {
    phase = p;
    phase_start[p] = steady_clock::now();
    counters_at[p] = cluster->counters();
  }
};

namespace {

using Workload = ReshardProbe::Workload;

asio::awaitable<void> work(Workload& w) {
  while (!w.stop) {
    const uint64_t seq = w.next_seq++;
    const std::string n = std::to_string(seq);
    const std::string key = w.key_base + n;
    const std::string value = w.value_base + n;
    auto written = co_await w.cluster->call("SET", key, value, "PX", w.ttl_ms);
    if (!written && written.error().code == ErrorCode::cancelled) {
      w.cancelled = true;
      co_return;
    }
    if (written && written.value().is_ok_status()) {
      w.acked.push_back(seq);
      w.succeeded();
      auto read = co_await w.cluster->call("GET", key);
      if (!read && read.error().code == ErrorCode::cancelled) {
        w.cancelled = true;
        co_return;
      }
      if (read && !read.value().is_nil() && read.value().str() == value) {
        w.succeeded();
      } else if (read) {
        ++w.read_mismatches;
        w.failed("GET " + key + " after its SET: " + read.value().debug_string());
      } else {
        w.failed("GET " + key + ": " + read.error().describe());
      }
    } else {
      w.failed("SET " + key + ": " +
               (written ? written.value().debug_string() : written.error().describe()));
    }
    w.look_at_owner();
    if (w.op_interval > Duration::zero() && !co_await sleep_for(w.op_interval)) {
      w.cancelled = true;
      co_return;
    }
  }
}

std::string describe(const SlotMove& move) {
  return "slot " + std::to_string(move.slot) + " moved from " + move.from.address() + " to " +
         move.to.address() + ": " + std::to_string(move.keys_moved) + " keys in " +
         std::to_string(move.batches) + " MIGRATE batch(es), " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(move.finished - move.started)
                 .count()) +
         " ms";
}

}  // namespace

SlotMover& ReshardProbe::mover(ProbeContext& ctx) {
  if (!mover_) {
    ConnectionOptions options = ctx.target;
    options.client_name += ":admin";
    mover_ = std::make_shared<SlotMover>(ctx.executor, seeds_of(ctx.topology), options);
  }
  return *mover_;
}

// Baseline, then the move phase (moving the slot out and back, or watching), then stops the
// workers. Always sets w.stop before returning.
asio::awaitable<void> ReshardProbe::control(ProbeContext& ctx, Workload& w) {
  auto finish = [&w](bool cancelled) {
    w.cancelled = w.cancelled || cancelled;
    w.end = steady_clock::now();
    w.stop = true;
  };
  if (!co_await sleep_for(params_.baseline)) co_return finish(true);
  w.enter(kMove);
  if (!ctx.topology.chaos_allowed || !params_.move) {
    if (!co_await sleep_for(params_.hold)) co_return finish(true);
    w.enter(kAfter);
    co_return finish(false);
  }
  SlotMover& m = mover(ctx);
  if (!co_await m.wait_idle()) co_return finish(true);  // a move left by a cancelled run
  Status loaded = co_await m.cluster().refresh();
  std::optional<ClusterNode> home;
  std::optional<ClusterNode> away;
  if (loaded) {
    home = m.cluster().node_for_slot(w.slot);
    if (home) away = other_primary(m.cluster(), *home);
  }
  if (!away) {
    w.move_error = loaded ? "no other primary to move slot " + std::to_string(w.slot) + " to"
                          : "reading the slot map: " + loaded.error().describe();
  } else {
    SlotMigrationOptions options;
    options.keys_per_batch = params_.keys_per_batch;
    options.deadline = kMoveBudget;
    const ClusterNode from = *home;
    const ClusterNode to = *away;
    m.start(w.slot, from, to, options);
    if (!co_await m.wait_idle()) co_return finish(true);
    if (!m.outcome()->ok()) {
      w.move_error = m.outcome()->error().describe();
    } else {
      ++w.slots_moved;
      w.move_notes.push_back(describe(m.outcome()->value()));
      if (!co_await sleep_for(params_.hold)) co_return finish(true);
      m.start(w.slot, to, from, options);
      if (!co_await m.wait_idle()) co_return finish(true);
      if (!m.outcome()->ok()) {
        w.move_error = m.outcome()->error().describe();
      } else {
        ++w.slots_moved;
        w.move_notes.push_back(describe(m.outcome()->value()) + " (back)");
      }
    }
  }
  w.enter(kAfter);
  finish(false);
}

asio::awaitable<ProbeResult> ReshardProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto* routed = dynamic_cast<ClusterRedisClient*>(&ctx.redis);
  if (ctx.topology.kind != TargetKind::cluster || routed == nullptr) {
    const std::string reason = "the target is not a cluster (kind " +
                               std::string(to_string(ctx.topology.kind)) + "): no slot to move";
    for (const char* name : kMeasurements) result.add_not_applicable(name, reason);
    co_return result;
  }
  auto cancelled = [&]() {
    result.errors.push_back("reshard probe cancelled");
    return result;
  };

  Workload w;
  w.cluster = &routed->cluster();
  w.slot = key_hash_slot(ctx.key_prefix);
  const std::string tag = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             ctx.clock.wall_now().time_since_epoch())
                                             .count()) +
                          "-" + std::to_string(++run_number_);
  w.key_base = ctx.key_prefix + "r:" + tag + ":";
  w.value_base = tag + ":";
  w.ttl_ms = to_ms(params_.key_ttl);
  w.op_interval = params_.op_interval;

  // Connect to the slot's owner before the clock starts: a connect is not unavailability.
  Command ping{"PING"};
  auto pinged = co_await w.cluster->command(std::move(ping), HashSlot{w.slot});
  if (!pinged) {
    if (pinged.error().code == ErrorCode::cancelled) co_return cancelled();
    result.errors.push_back("reaching the owner of slot " + std::to_string(w.slot) + ": " +
                            pinged.error().describe());
    co_return result;
  }
  w.look_at_owner();
  w.enter(kBaseline);
  w.last_success = w.phase_start[kBaseline];

  using Op = decltype(asio::co_spawn(ctx.executor, work(w), asio::deferred));
  std::vector<Op> ops;
  ops.push_back(asio::co_spawn(ctx.executor, control(ctx, w), asio::deferred));
  for (int i = 0; i < params_.workers; ++i) {
    ops.push_back(asio::co_spawn(ctx.executor, work(w), asio::deferred));
  }
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  auto outcome = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  auto state = co_await asio::this_coro::cancellation_state;
  if (w.cancelled || is_cancelled(state)) co_return cancelled();
  for (const auto& thrown : std::get<1>(outcome)) {
    if (thrown) {
      result.errors.push_back("a reshard worker threw an exception");
      co_return result;
    }
  }

  // Unavailability: the longest time without a successful operation, up to the end.
  w.longest_gap_seconds = std::max(w.longest_gap_seconds, seconds_between(w.last_success, w.end));
  result.add("unavailability_seconds", w.longest_gap_seconds);

  // Every acknowledged write, read back once the slot is home again.
  int64_t readable = 0;
  for (size_t start = 0; start < w.acked.size(); start += kBatch) {
    const size_t end = std::min(w.acked.size(), start + kBatch);
    std::vector<Command> batch;
    for (size_t i = start; i < end; ++i) {
      batch.push_back(Command{"GET", w.key_base + std::to_string(w.acked[i])});
    }
    auto replies = co_await ctx.redis.pipeline(std::move(batch));
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i]) {
        if (replies[i].error().code == ErrorCode::cancelled) co_return cancelled();
        result.errors.push_back("reading the acknowledged writes back: " +
                                replies[i].error().describe());
        co_return result;
      }
      const Reply& reply = replies[i].value();
      if (!reply.is_nil() && reply.str() == w.value_base + std::to_string(w.acked[start + i])) {
        ++readable;
      }
    }
  }
  if (w.acked.empty()) {
    result.add_not_applicable("acked_readable_ratio", "no write was acknowledged");
  } else {
    result.add("acked_readable_ratio",
               static_cast<double>(readable) / static_cast<double>(w.acked.size()));
    if (readable < static_cast<int64_t>(w.acked.size())) {
      result.notes.push_back(std::to_string(w.acked.size() - static_cast<size_t>(readable)) +
                             " acknowledged write(s) not readable after the move");
    }
  }

  // Throughput: successful operations per second in the move phase against the baseline.
  const double baseline_seconds = seconds_between(w.phase_start[kBaseline], w.phase_start[kMove]);
  const double move_seconds = seconds_between(w.phase_start[kMove], w.phase_start[kAfter]);
  auto redirects = [&](Phase p) {
    const ClusterCounters& a = w.counters_at[p];
    const ClusterCounters& b = p == kMove ? w.counters_at[kAfter] : w.counters_at[kMove];
    return (b.moved - a.moved) + (b.ask - a.ask);
  };
  const bool watching = w.slots_moved == 0 && !w.move_error;
  const bool moved_in_baseline = w.owner_changes[kBaseline] > 0 || redirects(kBaseline) > 0;
  const bool moved_in_move =
      w.slots_moved > 0 || w.owner_changes[kMove] > 0 || redirects(kMove) > 0;
  if (!moved_in_move) {
    const char* why = !ctx.topology.chaos_allowed ? "the target is not chaos_allowed"
                      : !params_.move             ? "move = false"
                                                  : "the probe's slot move failed";
    result.add_not_applicable("throughput_degradation_ratio",
                              std::string("no slot moved during the run (") + why + ")");
  } else if (watching && moved_in_baseline) {
    result.add_not_applicable("throughput_degradation_ratio",
                              "a slot moved during the baseline phase: no clean baseline");
  } else if (w.ops[kBaseline] == 0 || baseline_seconds <= 0 || move_seconds <= 0) {
    result.add_not_applicable("throughput_degradation_ratio",
                              "no successful operation in the baseline phase");
  } else {
    const double base_rate = static_cast<double>(w.ops[kBaseline]) / baseline_seconds;
    const double move_rate = static_cast<double>(w.ops[kMove]) / move_seconds;
    result.add("throughput_degradation_ratio", std::max(0.0, 1.0 - move_rate / base_rate));
    result.notes.push_back("ops/s: baseline " + std::to_string(static_cast<int64_t>(base_rate)) +
                           ", during the move " + std::to_string(static_cast<int64_t>(move_rate)));
  }
  const int observed = w.owner_changes[kBaseline] + w.owner_changes[kMove];
  result.add("slots_moved_total",
             static_cast<double>(w.slots_moved > 0 ? w.slots_moved : observed));

  for (auto& note : w.move_notes) result.notes.push_back(std::move(note));
  if (w.move_error) result.errors.push_back(*w.move_error);
  if (w.failed_ops > 0) {
    result.notes.push_back(std::to_string(w.failed_ops) +
                           " operation(s) failed, first: " + w.first_failure.value_or(""));
  }
  if (w.read_mismatches > 0) {
    result.notes.push_back(std::to_string(w.read_mismatches) +
                           " read(s) right after an acknowledged SET returned another value");
  }
  if (w.ops[kBaseline] + w.ops[kMove] + w.ops[kAfter] == 0) {
    result.errors.push_back("no operation succeeded (" + w.first_failure.value_or("none sent") +
                            ")");
  }

  // The run's keys have served their purpose; their TTL covers a failed delete.
  for (size_t start = 0; start < w.acked.size(); start += kBatch) {
    Command unlink{"UNLINK"};
    const size_t end = std::min(w.acked.size(), start + kBatch);
    for (size_t i = start; i < end; ++i) unlink.push_back(w.key_base + std::to_string(w.acked[i]));
    auto removed = co_await ctx.redis.command(std::move(unlink));
    if (!removed) {
      if (removed.error().code == ErrorCode::cancelled) co_return cancelled();
      result.notes.push_back("deleting the run's keys: " + removed.error().describe());
      break;
    }
  }
  co_return result;
}

asio::awaitable<Status> ReshardProbe::cleanup(ProbeContext& ctx) {
  // A move still running (its run was cancelled) finishes first: its keys move with it.
  if (mover_) (void)co_await mover_->wait_idle();
  co_return co_await delete_probe_keys(ctx);
}

ProbeType reshard_probe_type() {
  return {
      .type = "reshard",
      .summary = "availability, acknowledged writes and throughput while a cluster slot moves",
      .measurements = {"unavailability_seconds", "acked_readable_ratio",
                       "throughput_degradation_ratio", "slots_moved_total"},
      .default_slas =
          {
              {"unavailability_seconds", "< 0.5", 0.99, "no gap over 500 ms during a slot move"},
              {"acked_readable_ratio", ">= 1", 0.99, "every acknowledged write readable after"},
              {"throughput_degradation_ratio", "< 0.2", 0.99, "under 20% fewer ops/s while moving"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        ReshardParams p;
        p.baseline = params.get_duration("baseline", p.baseline, milliseconds(100), seconds(60));
        p.hold = params.get_duration("hold", p.hold, Duration::zero(), seconds(60));
        p.workers = static_cast<int>(params.get_int("workers", p.workers, 1, 64));
        p.op_interval =
            params.get_duration("op_interval", p.op_interval, Duration::zero(), seconds(1));
        p.move = params.get_bool("move", p.move);
        p.keys_per_batch =
            static_cast<int>(params.get_int("keys_per_batch", p.keys_per_batch, 1, 10000));
        p.key_ttl = params.get_duration("key_ttl", p.key_ttl, seconds(1), std::chrono::hours(24));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        const Duration worst = p.baseline + p.hold + ReshardProbe::kMoveBudget;
        if (worst >= config.timeout) {
          fail("baseline", "a run may take " + format_duration(worst) +
                               " (baseline + hold + 3s for moving the slot out and back), not "
                               "under the probe timeout " +
                               format_duration(config.timeout) +
                               ": shorten baseline or hold, or raise timeout");
        }
        if (p.key_ttl <= config.timeout) {
          fail("key_ttl", "key_ttl " + format_duration(p.key_ttl) +
                              " must exceed the probe timeout " + format_duration(config.timeout) +
                              ", or writes expire before they are read back");
        }
        return std::make_unique<ReshardProbe>(p);
      },
  };
}

}  // namespace chaosd
