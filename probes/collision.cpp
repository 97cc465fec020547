#include "probes/collision.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/params.h"
#include "probes/collision_hashed.h"
#include "probes/collision_intrusions.h"
#include "probes/collision_value.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

std::string tenant_name(int t) { return collision_tenant(t); }

}  // namespace

struct CollisionProbe::Run {
  Run(const CollisionParams& params, std::string key_base, uint64_t number)
      : p(params), keys(params, std::move(key_base), number) {}
  const CollisionParams& p;
  TenantKeys keys;
  int64_t unexpected_rejections = 0;  // an owner's own write rejected
  bool cancelled = false;
  std::optional<std::string> error;

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
      const std::string logical = run.keys.logical(t, k);
      values.push_back(encode_owned_value(owner, logical, round, run.keys.run, run.p.value_bytes));
      writes.push_back({"EVAL", kCollisionCheckedSet, "1", run.keys.key(t, k), owner, values.back(),
                        kCollisionValueTtlMs});
    }
    auto replies = co_await connection.pipeline(std::move(writes));
    for (size_t k = 0; k < replies.size(); ++k) {
      if (!replies[k]) {
        run.fail(t, replies[k].error());
        co_return;
      }
      if (replies[k].value().is_integer() && replies[k].value().integer() == 1) {
        run.keys.last[static_cast<size_t>(t)][k] = values[k];
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
  ++run_number_;
  Run run(p, ctx.key_prefix + "r" + std::to_string(run_number_) + ":", run_number_);
  const std::string& base = run.keys.base;

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
  Intrusions intrusions(run.keys, tenants_);
  if (p.intrusions > 0) {
    auto watching = co_await intrusions.watch(ctx, result);
    if (!watching) {
      result.errors.push_back(watching.error().message);
      co_return result;
    }
    auto done = co_await intrusions.run_all();
    if (!done) {
      result.errors.push_back(done.error().code == ErrorCode::cancelled
                                  ? std::string("collision probe cancelled")
                                  : "intrusions: " + done.error().describe());
      co_return result;
    }
  }
  intrusions.report(result);

  // Hashed keys: all tenants at once, through the chaining script.
  HashedKeys hashed(p, base, run.keys.run);
  std::vector<asio::awaitable<void>> hashers;
  if (p.hashed_keys > 0) {
    for (int t = 0; t < p.tenants; ++t) {
      hashers.push_back(write_hashed(run, hashed, *tenants_[static_cast<size_t>(t)], t));
    }
    co_await run_all(hashers);
    if (stopped()) co_return result;
  }

  if (before_verify_) before_verify_(base);

  // Read back every namespace key: the owner's last write, intact.
  std::vector<Command> reads;
  for (int t = 0; t < p.tenants; ++t) {
    for (int k = 0; k < p.keys_per_tenant; ++k) reads.push_back({"GET", run.keys.key(t, k)});
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
      const auto& last = run.keys.last[static_cast<size_t>(t)][static_cast<size_t>(k)];
      auto damage = value_damage(reply.value().is_nil() ? nullptr : &reply.value().str(),
                                 tenant_name(t), run.keys.logical(t, k), last);
      if (!damage) {
        ++intact;
      } else if (!first_damage) {
        first_damage = run.keys.key(t, k) + ": " + *damage;
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

  if (p.hashed_keys > 0) {
    auto verified = co_await hashed.verify(ctx.redis, result);
    if (!verified) {
      result.errors.push_back("reading back hashed keys: " + verified.error().describe());
      co_return result;
    }
  }

  auto deleted = co_await delete_keys_with_prefix(ctx.redis, base);
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
