#include "probes/durability.h"

#include <algorithm>
#include <optional>

#include "config/params.h"
#include "daemon/redis/info.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// GETs per pipeline when reading back, keys per UNLINK when deleting.
constexpr size_t kBatch = 500;
constexpr auto kRetryPause = std::chrono::milliseconds(50);
constexpr auto kReplicaPoll = std::chrono::milliseconds(10);

using Values = std::vector<std::optional<std::string>>;

Error cancelled_error() { return Error{ErrorCode::cancelled, "cancelled"}; }

// The value of each of `keys` (nullopt when missing), in pipelines of kBatch GETs. `readonly`
// prefixes each pipeline with READONLY (a cluster replica answers MOVED without it; the
// connection may have been replaced since the last pipeline, so it is sent every time).
asio::awaitable<Result<Values>> read_keys(RedisClient& client, const std::vector<std::string>& keys,
                                          bool readonly) {
  Values values;
  values.reserve(keys.size());
  for (size_t start = 0; start < keys.size(); start += kBatch) {
    const size_t end = std::min(keys.size(), start + kBatch);
    std::vector<Command> batch;
    if (readonly) batch.push_back(Command{"READONLY"});
    for (size_t i = start; i < end; ++i) batch.push_back(Command{"GET", keys[i]});
    const size_t skip = readonly ? 1 : 0;
    auto replies = co_await client.pipeline(std::move(batch));
    if (replies.size() != end - start + skip) {
      co_return Error{ErrorCode::protocol, "a read-back pipeline lost replies"};
    }
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i]) co_return replies[i].error();
      if (i < skip) continue;
      const Reply& reply = replies[i].value();
      values.push_back(reply.is_nil() ? std::nullopt : std::optional<std::string>(reply.str()));
    }
  }
  co_return values;
}

// read_keys, retried (a restarted server takes a moment to accept connections again) until
// `window` has passed. Cancellation is returned at once.
asio::awaitable<Result<Values>> read_keys_patiently(RedisClient& client,
                                                    const std::vector<std::string>& keys,
                                                    bool readonly, Duration window) {
  const auto give_up = steady_clock::now() + to_steady(window);
  for (;;) {
    auto values = co_await read_keys(client, keys, readonly);
    if (values || values.error().code == ErrorCode::cancelled) co_return values;
    if (steady_clock::now() >= give_up) co_return values;
    if (!co_await sleep_for(kRetryPause)) co_return cancelled_error();
  }
}

// The server's run_id: it changes when the process restarts (a failover changes the primary
// itself, which the caller sees as a different run_id too). Empty when INFO is not available.
asio::awaitable<std::string> server_run_id(ProbeContext& ctx) {
  Command info{"INFO", "server"};
  auto reply = co_await ctx.redis.command_for_key(std::move(info), ctx.key_prefix);
  co_return reply ? info_field(reply.value().str(), "run_id") : std::string();
}

struct Tally {
  int64_t lost = 0;
  int64_t phantom = 0;
};

// Acknowledged writes whose value is missing or different are lost; unacknowledged writes that
// are present are phantoms.
Tally tally(const std::vector<bool>& acked, const std::vector<std::string>& expected,
            const Values& seen) {
  Tally t;
  for (size_t i = 0; i < acked.size(); ++i) {
    const bool present = seen[i].has_value();
    if (acked[i] && (!present || *seen[i] != expected[i])) ++t.lost;
    if (!acked[i] && present) ++t.phantom;
  }
  return t;
}

void add_counts(ProbeResult& result, int64_t acked, const Tally& t, const std::string& subject) {
  result.add("lost_writes_total", static_cast<double>(t.lost), subject);
  result.add("phantom_writes_total", static_cast<double>(t.phantom), subject);
  if (acked > 0) {
    result.add("lost_write_ratio", static_cast<double>(t.lost) / static_cast<double>(acked),
               subject);
  } else {
    result.add_not_applicable("lost_write_ratio", "no write was acknowledged", subject);
  }
}

}  // namespace

asio::awaitable<ProbeResult> DurabilityProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto cancelled = [&]() {
    result.errors.push_back("durability probe cancelled");
    return result;
  };
  // Unique across daemon restarts too: keys of an earlier daemon's run may still be alive.
  const std::string tag = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             ctx.clock.wall_now().time_since_epoch())
                                             .count()) +
                          "-" + std::to_string(++run_number_);
  const std::string ttl_ms = to_ms(params_.key_ttl);

  // Replicas are listed before writing: a replica that detaches mid-run is still checked.
  auto replicas = co_await list_replicas(ctx);
  if (!replicas) {
    if (replicas.error().code == ErrorCode::cancelled) co_return cancelled();
    result.errors.push_back("listing replicas: " + replicas.error().describe());
    co_return result;
  }
  const std::string run_id_before = co_await server_run_id(ctx);

  // Write phase: one write at a time, each acknowledged or not.
  std::vector<std::string> keys, values;
  std::vector<bool> acked;
  std::optional<std::string> first_failure;
  const auto write_until = steady_clock::now() + to_steady(params_.duration);
  for (int seq = 0; seq < params_.max_writes && steady_clock::now() < write_until; ++seq) {
    keys.push_back(ctx.key_prefix + "w:" + tag + ":" + std::to_string(seq));
    values.push_back(tag + ":" + std::to_string(seq));
    auto reply = co_await ctx.redis.call("SET", keys.back(), values.back(), "PX", ttl_ms);
    if (!reply && reply.error().code == ErrorCode::cancelled) co_return cancelled();
    const bool ok = reply && reply.value().is_ok_status();
    acked.push_back(ok);
    if (!ok && !first_failure) {
      first_failure = "write " + std::to_string(seq) + ": " +
                      (reply ? reply.value().debug_string() : reply.error().describe());
    }
    if (params_.write_interval > Duration::zero() && !co_await sleep_for(params_.write_interval))
      co_return cancelled();
  }
  const auto acked_total = static_cast<int64_t>(std::count(acked.begin(), acked.end(), true));
  const auto unacked_total = static_cast<int64_t>(acked.size()) - acked_total;
  result.add("acked_writes_total", static_cast<double>(acked_total));
  result.add("unacked_writes_total", static_cast<double>(unacked_total));
  if (first_failure) {
    result.notes.push_back(std::to_string(unacked_total) +
                           " write(s) not acknowledged, first: " + *first_failure);
  }
  if (acked_total == 0) {
    result.errors.push_back("no write was acknowledged (" + first_failure.value_or("none sent") +
                            ")");
  }

  if (params_.settle > Duration::zero() && !co_await sleep_for(params_.settle))
    co_return cancelled();

  // Read back from the primary.
  auto on_primary = co_await read_keys_patiently(ctx.redis, keys, false, kReadRetryWindow);
  if (!on_primary) {
    if (on_primary.error().code == ErrorCode::cancelled) co_return cancelled();
    result.errors.push_back("reading the writes back from the primary: " +
                            on_primary.error().describe());
    co_return result;
  }
  add_counts(result, acked_total, tally(acked, values, on_primary.value()), "");
  const std::string run_id_after = co_await server_run_id(ctx);
  if (!run_id_before.empty() && !run_id_after.empty() && run_id_before != run_id_after) {
    result.notes.push_back("the primary's run_id changed during the run (restart or failover): " +
                           run_id_before + " -> " + run_id_after);
  }

  // Each replica: a full read, then the missing acknowledged writes again until replica_wait.
  for (const auto& replica : replicas.value()) {
    RedisConnection& connection = replica_connections_.to(ctx, replica);
    const auto give_up = steady_clock::now() + to_steady(params_.replica_wait);
    auto seen = co_await read_keys_patiently(connection, keys, replica.cluster_replica,
                                             params_.replica_wait);
    if (!seen) {
      if (seen.error().code == ErrorCode::cancelled) co_return cancelled();
      const std::string reason = "cannot read from the replica: " + seen.error().describe();
      result.notes.push_back(replica.name + ": " + reason);
      for (const char* name : {"lost_writes_total", "phantom_writes_total", "lost_write_ratio"}) {
        result.add_not_applicable(name, reason, replica.name);
      }
      continue;
    }
    Values& replica_values = seen.value();
    for (;;) {
      std::vector<size_t> missing;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (acked[i] && replica_values[i] != values[i]) missing.push_back(i);
      }
      if (missing.empty() || steady_clock::now() >= give_up) break;
      if (!co_await sleep_for(kReplicaPoll)) co_return cancelled();
      std::vector<std::string> again;
      for (size_t i : missing) again.push_back(keys[i]);
      auto reread = co_await read_keys(connection, again, replica.cluster_replica);
      if (!reread) {
        if (reread.error().code == ErrorCode::cancelled) co_return cancelled();
        continue;  // the deadline bounds the retries
      }
      for (size_t j = 0; j < missing.size(); ++j) replica_values[missing[j]] = reread.value()[j];
    }
    add_counts(result, acked_total, tally(acked, values, replica_values), replica.name);
  }

  // The run's keys have served their purpose; their TTL covers a failed delete.
  for (size_t start = 0; start < keys.size(); start += kBatch) {
    Command unlink{"UNLINK"};
    unlink.insert(
        unlink.end(), keys.begin() + static_cast<std::ptrdiff_t>(start),
        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), start + kBatch)));
    auto removed = co_await ctx.redis.command(std::move(unlink));
    if (!removed) {
      if (removed.error().code == ErrorCode::cancelled) co_return cancelled();
      result.notes.push_back("deleting the run's keys: " + removed.error().describe() +
                             " (they expire after key_ttl " + format_duration(params_.key_ttl) +
                             ")");
      break;
    }
  }
  co_return result;
}

asio::awaitable<Status> DurabilityProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType durability_probe_type() {
  return {
      .type = "durability",
      .summary = "acknowledged writes later missing (lost), unacknowledged writes present",
      .measurements = {"acked_writes_total", "unacked_writes_total", "lost_writes_total",
                       "phantom_writes_total", "lost_write_ratio"},
      .default_slas =
          {
              {"lost_writes_total", "== 0", 0.99, "no acknowledged write is lost"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        DurabilityParams p;
        p.duration = params.get_duration("duration", p.duration, milliseconds(10), seconds(60));
        p.write_interval =
            params.get_duration("write_interval", p.write_interval, Duration::zero(), seconds(1));
        p.max_writes = static_cast<int>(params.get_int("max_writes", p.max_writes, 1, 1'000'000));
        p.settle = params.get_duration("settle", p.settle, Duration::zero(), seconds(60));
        p.replica_wait =
            params.get_duration("replica_wait", p.replica_wait, milliseconds(10), seconds(60));
        p.key_ttl = params.get_duration("key_ttl", p.key_ttl, seconds(1), std::chrono::hours(24));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        const Duration worst =
            p.duration + p.settle + DurabilityProbe::kReadRetryWindow + p.replica_wait;
        if (worst >= config.timeout) {
          fail("duration", "a run may take " + format_duration(worst) +
                               " (duration + settle + 1s of read retries + replica_wait), not "
                               "under the probe timeout " +
                               format_duration(config.timeout) +
                               ": shorten duration, settle or replica_wait, or raise timeout");
        }
        if (p.key_ttl <= config.timeout) {
          // A key must outlive the run, or it expires before it is read back and looks lost.
          fail("key_ttl", "key_ttl " + format_duration(p.key_ttl) +
                              " must exceed the probe timeout " + format_duration(config.timeout) +
                              ", or writes expire before they are read back");
        }
        return std::make_unique<DurabilityProbe>(p);
      },
  };
}

}  // namespace chaosd
