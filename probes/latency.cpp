#include "probes/latency.h"

#include <algorithm>

#include "config/params.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace

asio::awaitable<ProbeResult> LatencyProbe::run(ProbeContext& ctx) {
  ProbeResult result;
  std::vector<double> ping, set, get;
  int attempted = 0;
  int succeeded = 0;
  double worst = 0;
  const std::string key = ctx.key_prefix + "k";
  const std::string value(static_cast<size_t>(params_.value_bytes), 'x');

  auto timed = [&](Command command, std::vector<double>& into) -> asio::awaitable<bool> {
    ++attempted;
    auto start = std::chrono::steady_clock::now();
    // PING has no key: it goes where the probe's key lives, like SET and GET.
    auto reply = co_await ctx.redis.command_for_key(std::move(command), key);
    double seconds = seconds_between(start, std::chrono::steady_clock::now());
    if (!reply) {
      if (result.errors.empty()) result.errors.push_back(reply.error().describe());
      co_return reply.error().code != ErrorCode::cancelled;
    }
    ++succeeded;
    into.push_back(seconds);
    worst = std::max(worst, seconds);
    co_return true;
  };

  // Built outside the co_await expressions (see RedisConnection::call).
  const Command ping_command{"PING"};
  const Command set_command{"SET", key, value, "PX", "60000"};
  const Command get_command{"GET", key};
  for (int i = 0; i < params_.samples; ++i) {
    if (!co_await timed(ping_command, ping)) break;
    if (!co_await timed(set_command, set)) break;
    if (!co_await timed(get_command, get)) break;
  }
  result.add("availability_ratio", attempted ? static_cast<double>(succeeded) / attempted : 0);
  if (!ping.empty()) result.add("ping_latency_seconds", median(ping));
  if (!set.empty()) result.add("set_latency_seconds", median(set));
  if (!get.empty()) result.add("get_latency_seconds", median(get));
  if (succeeded) result.add("max_latency_seconds", worst);
  co_return result;
}

asio::awaitable<Status> LatencyProbe::cleanup(ProbeContext& ctx) {
  co_return co_await delete_probe_keys(ctx);
}

ProbeType latency_probe_type() {
  return {
      .type = "latency",
      .summary = "PING/SET/GET latency and availability",
      .measurements = {"availability_ratio", "ping_latency_seconds", "set_latency_seconds",
                       "get_latency_seconds", "max_latency_seconds"},
      .default_slas =
          {
              {"availability_ratio", ">= 0.999", 0.99, "commands answered without error"},
              {"get_latency_seconds", "< 0.01", 0.99, "median GET latency under 10 ms"},
          },
      .create = [](const ProbeConfig& config,
                   const std::string& key_path) -> std::unique_ptr<Probe> {
        ParamReader params(config.params, key_path, config.where.file);
        LatencyParams p;
        p.samples = static_cast<int>(params.get_int("samples", p.samples, 1, 10'000));
        p.value_bytes =
            static_cast<int>(params.get_int("value_bytes", p.value_bytes, 1, 16 * 1024 * 1024));
        params.finish();
        return std::make_unique<LatencyProbe>(p);
      },
  };
}

}  // namespace chaosd
