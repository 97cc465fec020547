#include "probes/replication.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>

#include "config/params.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

SteadyTime midpoint(SteadyTime a, SteadyTime b) { return a + (b - a) / 2; }

// Long enough for any run; after a crash the keys still go away by themselves.
constexpr const char* kKeyTtlMs = "600000";
// The first re-poll of a replica that did not show the heartbeat yet (see measure_lag).
constexpr Duration kFirstRepoll = std::chrono::microseconds(100);

// SET with the probe's TTL; the error message, or empty on success.
asio::awaitable<std::string> write_value(RedisConnection& connection, std::string key,
                                         std::string value) {
  auto written = co_await connection.call("SET", key, value, "PX", kKeyTtlMs);
  co_return written ? std::string() : written.error().describe();
}

}  // namespace

asio::awaitable<ProbeResult> ReplicationProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  auto state = co_await asio::this_coro::cancellation_state;
  co_await measure_lag(ctx, result);
  if (state.cancelled() != asio::cancellation_type::none) co_return result;
  co_await measure_conflict(ctx, result);
  co_return result;
}

asio::awaitable<void> ReplicationProbe::measure_lag(ProbeContext& ctx, ProbeResult& result) {
  auto replicas = co_await list_replicas(ctx);
  if (!replicas) {
    result.errors.push_back("listing replicas: " + replicas.error().describe());
    co_return;
  }
  if (replicas.value().empty()) {
    if (writable_regions(ctx.topology).size() >= 2) {
      // Every region takes writes: there is no read-only copy whose lag could be measured.
      const char* reason = "every region is writable: no read-only replica";
      result.add_not_applicable("replication_lag_seconds", reason);
      result.add_not_applicable("convergence_ratio", reason);
      co_return;
    }
    result.errors.push_back("the target has no replica to measure (kind " +
                            std::string(to_string(ctx.topology.kind)) + ")");
    co_return;
  }
  const std::string key = ctx.key_prefix + "heartbeat";
  const std::string marker = std::to_string(++sequence_) + ":" +
                             std::to_string(ctx.clock.wall_now().time_since_epoch().count());
  auto sent = steady_clock::now();
  auto written = co_await ctx.redis.call("SET", key, marker, "PX", kKeyTtlMs);
  auto written_at = midpoint(sent, steady_clock::now());
  if (!written) {
    result.errors.push_back("writing the heartbeat: " + written.error().describe());
    co_return;
  }

  // Poll every replica in turn, each round sending one GET to every replica not yet caught up.
  struct Pending {
    ReplicaEndpoint replica;
    RedisConnection* connection;
  };
  std::vector<Pending> waiting;
  for (const auto& replica : replicas.value()) {
    waiting.push_back({replica, &replicas_.to(ctx, replica)});
  }
  const auto give_up =
      written_at + std::chrono::duration_cast<SteadyTime::duration>(params_.max_wait);
  size_t converged = 0;
  int rounds = 0;
  while (!waiting.empty() && steady_clock::now() < give_up) {
    std::vector<Pending> still;
    for (auto& p : waiting) {
      auto asked = steady_clock::now();
      std::vector<Command> get{{"GET", key}};
      auto replies = co_await pipeline_on_replica(*p.connection, p.replica, std::move(get));
      Result<Reply> seen = replies.empty() ? Result<Reply>(Error{ErrorCode::protocol, "no reply"})
                                           : std::move(replies.front());
      auto answered = steady_clock::now();
      if (seen && seen.value().str() == marker) {
        result.add("replication_lag_seconds",
                   std::max(0.0, seconds_between(written_at, midpoint(asked, answered))),
                   p.replica.name);
        ++converged;
      } else {
        if (!seen && seen.error().code == ErrorCode::cancelled) co_return;
        still.push_back(p);
      }
    }
    waiting = std::move(still);
    // The first poll often comes before a nearby replica has applied the write (it usually has
    // within 100 us on one host): ask again soon once, so such a lag is not read as a whole
    // poll_interval.
    const Duration pause =
        rounds++ == 0 ? std::min(params_.poll_interval, kFirstRepoll) : params_.poll_interval;
    if (!waiting.empty() && !co_await sleep_for(pause)) break;
  }
  for (const auto& p : waiting) {
    result.notes.push_back(p.replica.name + " did not show the heartbeat within " +
                           format_duration(params_.max_wait));
  }
  result.add("convergence_ratio", static_cast<double>(converged) / replicas.value().size());
}

asio::awaitable<void> ReplicationProbe::measure_conflict(ProbeContext& ctx, ProbeResult& result) {
  auto writers = writable_regions(ctx.topology);
  if (writers.size() < 2) {
    const char* reason = "single-writer topology: concurrent writes cannot conflict";
    result.add_not_applicable("conflict_resolution_seconds", reason);
    result.add_not_applicable("divergent_regions_total", reason);
    co_return;
  }
  // Every region (writable or not) must end up with one value of the key.
  std::vector<ReplicaEndpoint> everyone = writers;
  auto readers = co_await list_replicas(ctx);
  if (readers) everyone.insert(everyone.end(), readers.value().begin(), readers.value().end());

  // One write of the same key per writable region, each with its own value, all in flight at
  // once: the writes are concurrent as far as the regions can tell.
  const std::string key = ctx.key_prefix + "conflict";
  const std::string round = std::to_string(++sequence_);
  using WriteOp = decltype(asio::co_spawn(
      ctx.executor, write_value(regions_.to(ctx, writers[0]), key, round), asio::deferred));
  std::vector<WriteOp> writes;
  for (const auto& writer : writers) {
    writes.push_back(asio::co_spawn(
        ctx.executor, write_value(regions_.to(ctx, writer), key, writer.name + ":" + round),
        asio::deferred));
  }
  auto group = asio::experimental::make_parallel_group(std::move(writes));
  auto outcome = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  const auto& failures = std::get<2>(outcome);
  for (size_t i = 0; i < failures.size(); ++i) {
    if (std::get<1>(outcome)[i] || !failures[i].empty()) {
      result.errors.push_back("writing the conflicting value in " + writers[i].name + ": " +
                              (failures[i].empty() ? "exception" : failures[i]));
      co_return;
    }
  }
  const auto written_at = steady_clock::now();
  const auto give_up =
      written_at + std::chrono::duration_cast<SteadyTime::duration>(params_.max_wait);
  std::map<std::string, std::string> last_seen;  // region -> value it returned last
  while (true) {
    for (const auto& region : everyone) {
      auto seen = co_await regions_.to(ctx, region).call("GET", key);
      if (!seen && seen.error().code == ErrorCode::cancelled) co_return;
      last_seen[region.name] = seen ? (seen.value().is_nil() ? "(nil)" : seen.value().str())
                                    : "(error: " + seen.error().message + ")";
    }
    std::map<std::string, int> votes;
    for (const auto& [region, value] : last_seen) ++votes[value];
    if (votes.size() == 1 && votes.begin()->first.rfind("(", 0) != 0) {
      result.add("conflict_resolution_seconds", seconds_between(written_at, steady_clock::now()));
      result.add("divergent_regions_total", 0);
      co_return;
    }
    if (steady_clock::now() >= give_up) break;
    if (!co_await sleep_for(params_.poll_interval)) co_return;
  }
  // No agreement: count the regions outside the largest group that agrees.
  std::map<std::string, int> votes;
  for (const auto& [region, value] : last_seen) ++votes[value];
  int largest = 0;
  for (const auto& [value, count] : votes) largest = std::max(largest, count);
  result.add("divergent_regions_total", static_cast<double>(last_seen.size()) - largest);
  result.notes.push_back("the regions did not agree on one value within " +
                         format_duration(params_.max_wait) + " of concurrent writes");
}

asio::awaitable<Status> ReplicationProbe::cleanup(ProbeContext& ctx) {
  // The conflict key was also written straight into every writable region.
  for (const auto& writer : writable_regions(ctx.topology)) {
    auto deleted = co_await regions_.to(ctx, writer).call("DEL", ctx.key_prefix + "conflict");
    if (!deleted) co_return deleted.error();
  }
  co_return co_await delete_probe_keys(ctx);
}

ProbeType replication_probe_type() {
  return {
      .type = "replication",
      .summary = "replication lag per replica or region on one clock, convergence",
      .measurements = {"replication_lag_seconds", "convergence_ratio",
                       "conflict_resolution_seconds", "divergent_regions_total"},
      .default_slas =
          {
              {"replication_lag_seconds", "< 0.2", 0.99, "cross-region sync under 200 ms"},
              {"convergence_ratio", ">= 0.999", 0.99, "every replica sees each write"},
              {"conflict_resolution_seconds", "< 0.5", 0.99,
               "concurrent writes in two regions agree within 500 ms"},
              {"divergent_regions_total", "== 0", 0.99, "no region left diverged"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        ParamReader params(config.params, key_path, config.where.file);
        ReplicationParams p;
        p.poll_interval =
            params.get_duration("poll_interval", p.poll_interval, std::chrono::microseconds(100),
                                std::chrono::seconds(1));
        p.max_wait = params.get_duration("max_wait", p.max_wait, std::chrono::milliseconds(10),
                                         std::chrono::minutes(1));
        params.finish();
        return std::make_unique<ReplicationProbe>(p);
      },
  };
}

}  // namespace chaosd
