#pragma once
// Running one probe the way the daemon does (through a ProbeRunner), for the probe tests.

#include <optional>
#include <string>

#include "daemon/probe_runner.h"
#include "tests/support/redis_server.h"

namespace chaosd::test {

/// A probe of `type` named after it, on target "main", with `params_toml` as its params table
/// ("keys = 3, ttl = \"1s\"").
ProbeConfig probe_config(const std::string& type, const std::string& params_toml = "");
ConnectionOptions options_for(const RedisServer& server);
/// A standalone target at `server`.
TargetConfig topology_for(const RedisServer& server);
/// A cluster target seeded with one node only: the rest must come from the slot map.
TargetConfig cluster_topology_for(const RedisServer& seed);

/// The value of an applicable measurement; nullopt when absent or not applicable.
std::optional<double> measured(const ProbeResult& result, const std::string& name);
/// The same, for the measurement about `subject` (a replica, a region).
std::optional<double> measured(const ProbeResult& result, const std::string& name,
                               const std::string& subject);
/// Expects the registry factory of config.type to refuse `config` with a ConfigError naming
/// `key_path` (e.g. "probes[0].params.readers").
void expect_params_rejected(const ProbeConfig& config, const std::string& key_path);
/// True when `name` is reported as not applicable (with a reason).
bool not_applicable(const ProbeResult& result, const std::string& name);
std::string first_error(const ProbeRun& run);

struct ProbeOutcome {
  ProbeRun run;
  bool cleaned = true;  // stop() deleted the probe's keys (true when not stopped)
};

/// One run of `config` (built by its registry factory), then, with `stop_after`, stop() and key
/// cleanup. `runner_timeout` replaces config.timeout after the params were validated with it.
ProbeOutcome run_probe_once(const ProbeConfig& config, const TargetConfig& topology,
                            const ConnectionOptions& options, bool stop_after = true,
                            std::optional<Duration> runner_timeout = std::nullopt);

}  // namespace chaosd::test
