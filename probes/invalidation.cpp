#include "probes/invalidation.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "config/params.h"
#include "probes/probe_keys.h"
#include "probes/probe_util.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr const char* kInitialValue = "v0";

// Detaches the services from a round on every way out of it, cancellation included: the round
// lives in the frame that is going away.
struct Detach {
  std::vector<std::shared_ptr<TrackingService>>& services;
  ~Detach() {
    for (auto& s : services) s->attach(nullptr);
  }
};

}  // namespace

int64_t invalidation_tree_size(int64_t fanout, int64_t depth) {
  int64_t size = 0, level = 1;
  for (int64_t d = 0; d <= depth; ++d) {
    size += level;
    level *= fanout;
  }
  return size;
}

struct InvalidationProbe::Scenario {
  std::string name;  // the measurements' subject
  int trees = 1;     // roots written at once per round
  int depth = 1;
  bool spread = false;  // level l of tree t is owned by service (l + t) % services; else service 0
  bool load = false;    // under the background load
  Duration duration{};  // rounds repeat until this has passed (at least one round)
  std::string run_tag;

  std::vector<double> delays;  // root write -> invalidation received, every (service, key)
  size_t expected = 0;
  size_t received = 0;
  int64_t stale = 0;
  int rounds = 0;
  double seconds = 0;
  uint64_t load_ops = 0;
  bool cancelled = false;
  std::optional<std::string> error;
};

struct InvalidationProbe::Load {
  bool stop = false;
  uint64_t ops = 0;
  bool cancelled = false;
  std::optional<std::string> error;
};

namespace {

using Load = InvalidationProbe::Load;

asio::awaitable<void> apply_load(RedisConnection& connection, const std::string& key,
                                 const std::string& ttl_ms, Load& load) {
  auto fail = [&](const Error& e) {
    if (e.code == ErrorCode::cancelled) {
      load.cancelled = true;
    } else if (!load.error) {
      load.error = "load on " + key + ": " + e.describe();
    }
  };
  for (uint64_t n = 0; !load.stop; ++n) {
    Command set{"SET", key, std::to_string(n), "PX", ttl_ms};
    auto written = co_await connection.command(std::move(set));
    if (!written) {
      fail(written.error());
      co_return;
    }
    Command get{"GET", key};
    auto read = co_await connection.command(std::move(get));
    if (!read) {
      fail(read.error());
      co_return;
    }
    load.ops += 2;
  }
}

}  // namespace

asio::awaitable<Status> InvalidationProbe::prepare(ProbeContext& ctx) {
  // After a command: a cluster client knows the slot's owner only once it has the slot map.
  Command ping{"PING"};
  auto pong = co_await ctx.redis.command_for_key(std::move(ping), ctx.key_prefix);
  if (!pong) co_return pong.error();
  // Tracking is per server: the services talk straight to the node serving the probe's slot.
  ConnectionOptions options = ctx.target;
  if (auto node = ctx.redis.node_for_key(ctx.key_prefix)) {
    options.host = node->host;
    options.port = node->port;
  }
  NodeAddress where{options.host, options.port};
  if (node_ != where) {
    services_.clear();
    loaders_.clear();
    node_ = where;
  }
  while (services_.size() < static_cast<size_t>(params_.services)) {
    services_.push_back(std::make_shared<TrackingService>(
        ctx.executor, static_cast<int>(services_.size()), options));
  }
  while (loaders_.size() < static_cast<size_t>(params_.load_clients)) {
    ConnectionOptions load_options = options;
    load_options.client_name += ":load" + std::to_string(loaders_.size());
    loaders_.push_back(std::make_unique<RedisConnection>(ctx.executor, load_options));
  }
  for (auto& service : services_) {
    if (service->healthy()) continue;
    Status started = co_await service->start();
    if (!started) {
      co_return Error{started.error().code, "service " + std::to_string(service->index()) + ": " +
                                                started.error().message};
    }
  }
  co_return Ok{};
}

asio::awaitable<void> InvalidationProbe::play_round(ProbeContext& ctx, Scenario& scenario,
                                                    int round_number) {
  const int services = params_.services;
  const auto per_tree = static_cast<int>(invalidation_tree_size(params_.fanout, scenario.depth));
  InvalidationRound round;
  round.value_ttl_ms = to_ms(params_.value_ttl);
  const std::string tag = scenario.name + std::to_string(round_number);
  round.new_value = "v1:" + scenario.run_tag + ":" + tag;
  const std::string base = ctx.key_prefix + "r" + scenario.run_tag + ":" + tag + ":";
  std::vector<std::string> keys;
  for (int t = 0; t < scenario.trees; ++t) {
    const int first = static_cast<int>(round.nodes.size());
    round.roots.push_back(first);
    std::vector<int> level(per_tree, 0);
    for (int i = 0; i < per_tree; ++i) {
      InvalidationRound::Node node;
      node.key = base + "t" + std::to_string(t) + ":n" + std::to_string(i);
      node.owner = scenario.spread ? (level[i] + t) % services : 0;
      node.received.resize(services);
      for (int c = 1; c <= params_.fanout; ++c) {
        const int64_t child = int64_t{i} * params_.fanout + c;
        if (child >= per_tree) break;
        level[child] = level[i] + 1;
        node.children.push_back(first + static_cast<int>(child));
      }
      round.index.emplace(node.key, first + i);
      keys.push_back(node.key);
      round.nodes.push_back(std::move(node));
    }
  }
  for (auto& s : services_) round.services.push_back(s.get());
  Detach detach{services_};

  // Fresh keys: nobody tracks them yet, so these writes invalidate nothing.
  std::vector<Command> setup;
  for (const auto& key : keys)
    setup.push_back({"SET", key, kInitialValue, "PX", round.value_ttl_ms});
  auto written = co_await ctx.redis.pipeline(std::move(setup));
  for (auto& reply : written) {
    if (reply) continue;
    if (reply.error().code == ErrorCode::cancelled) {
      scenario.cancelled = true;
    } else {
      scenario.error = "writing the trees: " + reply.error().describe();
    }
    co_return;
  }
  // Every service reads every key through its cache: the server now tracks them for it.
  for (auto& s : services_) s->attach(&round);
  for (auto& s : services_) {
    auto values = co_await s->read(keys);
    if (!values) {
      round.fail(*s, values.error());
      break;
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      if (values.value()[i] != kInitialValue) {
        round.error = "service " + std::to_string(s->index()) + " read " +
                      values.value()[i].value_or("(nil)") + " for " + keys[i] +
                      " before anything invalidated it";
        break;
      }
    }
    if (round.error) break;
  }

  if (!round.error && !round.cancelled) {
    round.expected = static_cast<size_t>(services) * round.nodes.size();
    round.armed = true;
    round.written = steady_clock::now();
    round.deadline = round.written + to_steady(params_.max_wait);
    std::vector<Command> invalidate;
    for (int root : round.roots) {
      invalidate.push_back(
          {"SET", round.nodes[root].key, round.new_value, "PX", round.value_ttl_ms});
    }
    auto sent = co_await ctx.redis.pipeline(std::move(invalidate));
    for (auto& reply : sent) {
      if (!reply) {
        if (reply.error().code == ErrorCode::cancelled) {
          round.cancelled = true;
        } else if (!round.error) {
          round.error = "writing the roots: " + reply.error().describe();
        }
      }
    }
  }
  if (!round.error && !round.cancelled) {
    // Until every service has heard of every key, or max_wait: each service cascades what it owns.
    using Worker =
        decltype(asio::co_spawn(ctx.executor, services_[0]->cascade(round), asio::deferred));
    std::vector<Worker> workers;
    for (auto& s : services_) {
      workers.push_back(asio::co_spawn(ctx.executor, s->cascade(round), asio::deferred));
    }
    auto group = asio::experimental::make_parallel_group(std::move(workers));
    auto outcome =
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (const auto& thrown : std::get<1>(outcome)) {
      // Cancellation surfaces as an operation_aborted exception from a worker's next wait.
      if (thrown && !round.error && !round.cancelled) round.cancelled = true;
    }
  }
  auto state = co_await asio::this_coro::cancellation_state;
  if (round.cancelled || cancelled(state)) {
    scenario.cancelled = true;
    co_return;
  }
  if (round.error) {
    scenario.error = round.error;
    co_return;
  }
  for (const auto& node : round.nodes) {
    for (const auto& at : node.received) {
      if (at) scenario.delays.push_back(seconds_between(round.written, *at));
    }
  }
  scenario.expected += round.expected;
  scenario.received += round.received;

  // Once the round has settled, every service must read the new value of every key: a cached
  // old value (its invalidation never came) or an old value on the server (the cascade stopped
  // short) is a stale read.
  for (auto& s : services_) {
    auto values = co_await s->read(keys);
    if (!values) {
      round.fail(*s, values.error());
      scenario.cancelled = round.cancelled;
      scenario.error = round.error;
      co_return;
    }
    for (const auto& value : values.value()) {
      if (value != round.new_value) ++scenario.stale;
    }
  }
  ++scenario.rounds;

  Command unlink{"UNLINK"};
  unlink.insert(unlink.end(), keys.begin(), keys.end());
  auto removed = co_await ctx.redis.command_for_key(std::move(unlink), ctx.key_prefix);
  if (!removed && removed.error().code != ErrorCode::cancelled) {
    scenario.error = "deleting the round's keys: " + removed.error().describe();
  }
}

asio::awaitable<void> InvalidationProbe::play_rounds(ProbeContext& ctx, Scenario& scenario,
                                                     Load& load) {
  const auto until = steady_clock::now() + to_steady(scenario.duration);
  int round_number = 0;
  do {
    co_await play_round(ctx, scenario, round_number++);
  } while (!scenario.cancelled && !scenario.error && steady_clock::now() < until);
  load.stop = true;
}

asio::awaitable<void> InvalidationProbe::play(ProbeContext& ctx, Scenario& scenario) {
  const auto started = steady_clock::now();
  Load load;
  if (!scenario.load || loaders_.empty()) {
    co_await play_rounds(ctx, scenario, load);
  } else {
    const std::string ttl_ms = to_ms(params_.value_ttl);
    std::vector<std::string> load_keys;
    for (size_t i = 0; i < loaders_.size(); ++i) {
      load_keys.push_back(ctx.key_prefix + "load" + std::to_string(i));
    }
    using Task =
        decltype(asio::co_spawn(ctx.executor, play_rounds(ctx, scenario, load), asio::deferred));
    std::vector<Task> tasks;
    tasks.push_back(asio::co_spawn(ctx.executor, play_rounds(ctx, scenario, load), asio::deferred));
    for (size_t i = 0; i < loaders_.size(); ++i) {
      tasks.push_back(asio::co_spawn(
          ctx.executor, apply_load(*loaders_[i], load_keys[i], ttl_ms, load), asio::deferred));
    }
    auto group = asio::experimental::make_parallel_group(std::move(tasks));
    auto outcome =
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (const auto& thrown : std::get<1>(outcome)) {
      if (thrown && !scenario.error) scenario.cancelled = true;
    }
    if (load.cancelled) scenario.cancelled = true;
    if (load.error && !scenario.error && !scenario.cancelled) scenario.error = load.error;
    if (!scenario.cancelled) {
      Command unlink{"UNLINK"};
      unlink.insert(unlink.end(), load_keys.begin(), load_keys.end());
      auto removed = co_await ctx.redis.command_for_key(std::move(unlink), ctx.key_prefix);
      if (!removed && !scenario.error) {
        scenario.error = "deleting the load keys: " + removed.error().describe();
      }
    }
  }
  scenario.load_ops = load.ops;
  scenario.seconds = seconds_between(started, steady_clock::now());
}

asio::awaitable<ProbeResult> InvalidationProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  const std::string run_tag = std::to_string(++run_number_);
  Status ready = co_await prepare(ctx);
  if (!ready) {
    result.errors.push_back(ready.error().code == ErrorCode::cancelled
                                ? "invalidation probe cancelled"
                                : "setting up the services: " + ready.error().describe());
    co_return result;
  }

  auto scenario = [&](std::string name, int trees, int depth, bool spread) {
    Scenario s;
    s.name = std::move(name);
    s.trees = trees;
    s.depth = depth;
    s.spread = spread;
    s.run_tag = run_tag;
    return s;
  };
  std::vector<Scenario> scenarios;
  scenarios.push_back(scenario("single_level", 1, 1, false));
  scenarios.push_back(scenario("multi_level", 1, params_.depth, false));
  scenarios.push_back(scenario("cross_service", 1, params_.depth, true));
  scenarios.push_back(scenario("concurrent", params_.concurrent_roots, params_.depth, true));
  scenarios.back().load = true;
  scenarios.back().duration = params_.load_duration;

  for (auto& s : scenarios) {
    std::string not_applicable;
    if (s.name == "multi_level" && params_.depth == 1) {
      not_applicable = "depth = 1: the cascade has a single level";
    } else if (s.name == "cross_service" && params_.services == 1) {
      not_applicable = "services = 1: no other service to cascade to";
    }
    if (!not_applicable.empty()) {
      for (const char* m : {"propagation_seconds", "propagation_ratio", "stale_reads_total"}) {
        result.add_not_applicable(m, not_applicable, s.name);
      }
      continue;
    }
    co_await play(ctx, s);
    auto state = co_await asio::this_coro::cancellation_state;
    if (s.cancelled || cancelled(state)) {
      result.errors.push_back("invalidation probe cancelled");
      co_return result;
    }
    if (s.error) {
      // The slot moved under the services: look its owner up again next run.
      if (s.error->find("MOVED") != std::string::npos) node_.reset();
      result.errors.push_back(s.name + ": " + *s.error);
      co_return result;
    }
    result.add("propagation_ratio",
               static_cast<double>(s.received) / static_cast<double>(s.expected), s.name);
    if (s.delays.empty()) {
      result.add_not_applicable("propagation_seconds", "no invalidation arrived within max_wait",
                                s.name);
    } else {
      result.add("propagation_seconds", p99(s.delays), s.name);
    }
    result.add("stale_reads_total", static_cast<double>(s.stale), s.name);
    if (s.load) {
      if (loaders_.empty()) {
        result.add_not_applicable("load_ops_per_second", "load_clients = 0", s.name);
      } else if (s.seconds > 0) {
        result.add("load_ops_per_second", static_cast<double>(s.load_ops) / s.seconds, s.name);
      }
    }
  }
  for (auto& service : services_) {
    service->healthy();
    if (service->lost()) {
      result.notes.push_back("service " + std::to_string(service->index()) +
                             " lost its tracking or its invalidation channel during the run: "
                             "its cache was flushed and its missed invalidations counted");
    }
  }
  co_return result;
}

asio::awaitable<Status> InvalidationProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType invalidation_probe_type() {
  return {
      .type = "invalidation",
      .summary = "CLIENT TRACKING invalidation of a dependency tree across caching services",
      .measurements = {"propagation_seconds", "propagation_ratio", "stale_reads_total",
                       "load_ops_per_second"},
      .default_slas =
          {
              {"propagation_seconds", "< 0.1", 0.99, "invalidations delivered within 100 ms"},
              {"propagation_ratio", ">= 0.999", 0.99, "invalidations delivered (99.9%)"},
              {"stale_reads_total", "== 0", 0.99, "no stale read after an invalidation"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        using std::chrono::milliseconds;
        using std::chrono::seconds;
        ParamReader params(config.params, key_path, config.where.file);
        InvalidationParams p;
        p.services = static_cast<int>(params.get_int("services", p.services, 1, 16));
        p.fanout = static_cast<int>(params.get_int("fanout", p.fanout, 1, 16));
        p.depth = static_cast<int>(params.get_int("depth", p.depth, 1, 8));
        p.concurrent_roots =
            static_cast<int>(params.get_int("concurrent_roots", p.concurrent_roots, 1, 16));
        p.load_clients = static_cast<int>(params.get_int("load_clients", p.load_clients, 0, 32));
        p.load_duration =
            params.get_duration("load_duration", p.load_duration, milliseconds(0), seconds(60));
        p.max_wait = params.get_duration("max_wait", p.max_wait, milliseconds(10), seconds(30));
        p.value_ttl = params.get_duration("value_ttl", p.value_ttl, seconds(1), seconds(3600));
        params.finish();
        auto fail = [&](const char* key, const std::string& message) {
          throw ConfigError(config.where, key_path + "." + key, message);
        };
        constexpr int64_t kMaxTreeKeys = 1000;
        constexpr int64_t kMaxRoundKeys = 4000;
        const int64_t tree = invalidation_tree_size(p.fanout, p.depth);
        if (tree > kMaxTreeKeys) {
          fail("depth", "a tree with fanout " + std::to_string(p.fanout) + " and depth " +
                            std::to_string(p.depth) + " has " + std::to_string(tree) +
                            " keys, more than " + std::to_string(kMaxTreeKeys) +
                            ": lower fanout or depth");
        }
        if (tree * p.concurrent_roots > kMaxRoundKeys) {
          fail("concurrent_roots", std::to_string(p.concurrent_roots) + " trees of " +
                                       std::to_string(tree) + " keys are more than " +
                                       std::to_string(kMaxRoundKeys) +
                                       " keys per round: lower concurrent_roots, fanout or depth");
        }
        // Each scenario's round waits up to max_wait; the concurrent one repeats rounds for
        // load_duration, and its last round may start just before that ends.
        Duration worst = 4 * p.max_wait + p.load_duration;
        if (worst >= config.timeout) {
          fail("max_wait", "a run may wait " + format_duration(worst) +
                               " (4 x max_wait + load_duration), not under the probe timeout " +
                               format_duration(config.timeout) +
                               ": lower max_wait or load_duration, or raise timeout");
        }
        if (p.value_ttl <= config.timeout) {
          // An expiring key is an invalidation too: it must not happen inside a run.
          fail("value_ttl",
               "value_ttl " + format_duration(p.value_ttl) + " must exceed the probe timeout " +
                   format_duration(config.timeout) + " or the trees' keys may expire mid-run");
        }
        return std::make_unique<InvalidationProbe>(p);
      },
  };
}

}  // namespace chaosd
