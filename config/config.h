#pragma once
// The typed, validated configuration of redis-chaosd. A Config is produced only by load_config()
// (config/loader.h), which rejects anything it does not understand with a ConfigError naming
// file:line:col and the key path.

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/duration.h"

namespace chaosd {

/// Where a value came from in a config file; line/column are 1-based, 0 when unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;  // "file:line:col"
};

/// A start-up error in the configuration. what() is the whole user-facing message:
/// "config/lab.toml:12:7: probes[2].interval: "5x" is not a duration (use e.g. "500ms", "5s")".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(SourceLocation where, std::string key_path, std::string message);
  const SourceLocation& where() const { return where_; }
  const std::string& key_path() const { return key_path_; }
  const std::string& message() const { return message_; }

 private:
  SourceLocation where_;
  std::string key_path_;
  std::string message_;
};

enum class LogFormat { text, json };
enum class TargetKind { standalone, replicated, cluster, regions };
const char* to_string(TargetKind kind);

struct NodeAddress {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;  // "host:port", "[v6]:port"
  bool operator==(const NodeAddress&) const = default;
};

/// One region of a `regions` target: a Redis endpoint in that region, writable or a replica.
struct RegionConfig {
  std::string name;
  NodeAddress address;
  bool writable = false;
};

/// [lab]: real redis-server processes started by the daemon (daemon/lab/). Each topology becomes a
/// target of the same name ("standalone", "replicated", "cluster", "regions", "eviction").
struct LabConfig {
  bool enabled = false;
  std::vector<std::string> topologies = {"standalone", "replicated", "cluster", "regions",
                                         "eviction"};
  std::string redis_server = "redis-server";                  // binary, looked up in PATH
  Duration region_b_latency = std::chrono::milliseconds(20);  // one way, through a proxy link
  Duration region_c_latency = std::chrono::milliseconds(60);
};

/// [chaos]: the chaos engine (chaos/, docs/chaos.md). Off unless enabled = true; faults only on
/// targets with chaos_allowed = true; every mutating HTTP call needs the bearer token.
struct ChaosConfig {
  bool enabled = false;
  std::string token_file;    // where the token was read from (empty: env var, or generated)
  std::string token;         // resolved at load time; never printed or logged (except generated)
  std::string token_source;  // "token_file", "env REDIS_CHAOSD_TOKEN", "generated", "" (none)
  int max_active_faults = 1;
  Duration max_fault_duration = std::chrono::hours(1);
  std::optional<Duration> deadman;  // deadman_seconds: no heartbeat for this long halts chaos
  SourceLocation where;
};

/// The env var that holds the chaos token when [chaos] token_file is not set.
inline constexpr const char* kChaosTokenEnv = "REDIS_CHAOSD_TOKEN";

struct DaemonConfig {
  std::string listen = "127.0.0.1:9490";  // host:port of the HTTP server
  std::string log_level = "info";         // trace, debug, info, warn, error, critical, off
  LogFormat log_format = LogFormat::text;
  std::string state_dir = "/var/tmp/redis-chaosd";
  std::string key_prefix = "chaosd";  // every probe key lives under "<key_prefix>:<probe>:"
  Duration shutdown_timeout = std::chrono::seconds(5);
};

struct TargetConfig {
  std::string name;
  TargetKind kind = TargetKind::standalone;
  std::string host;  // standalone/replicated: the primary; cluster: first seed; regions: writable
  uint16_t port = 6379;
  std::vector<NodeAddress> replicas;    // replicated: listed replicas (else found via INFO)
  std::vector<NodeAddress> seeds;       // cluster: where to read the slot map from
  std::vector<RegionConfig> regions;    // regions: every region, at least one writable
  bool lab = false;                     // started by the embedded lab; addresses filled at start
  std::string username;                 // empty: AUTH with password only (or no AUTH)
  std::optional<std::string> password;  // resolved from password or password_env at load time
  std::string password_env;             // name of the env var, kept for --print-config
  int db = 0;
  bool chaos_allowed = false;
  // node_kill on a node the daemon did not start: argv templates with {host}, {port} and {node}
  // ("host:port"). No kill_command: SHUTDOWN NOSAVE. No restart_command: node_kill is refused
  // (it could not be reverted).
  std::vector<std::string> kill_command;
  std::vector<std::string> restart_command;
  // "127.0.0.1:16379": the daemon fronts the target with a fault proxy link of the target's name
  // (loopback only; standalone/replicated) and probes through it (daemon/target_proxies.h).
  std::string proxy_listen;
  std::string upstream;  // set by the daemon when fronted: the real address (host/port: the link)
  Duration connect_timeout = std::chrono::seconds(1);
  Duration command_timeout = std::chrono::seconds(1);
  SourceLocation where;
};

struct ProbeConfig {
  std::string name;  // defaults to type; must be unique
  std::string type;  // a key of the probe registry
  std::string target;
  Duration interval = std::chrono::seconds(10);
  Duration timeout = std::chrono::seconds(5);
  bool enabled = true;
  // Validated by the probe's factory (probes/registry.cpp). Its nodes keep their file positions
  // for ParamReader errors across moves only: toml++ drops positions when a table is copied.
  toml::table params;
  SourceLocation where;
};

enum class Comparison { less, less_equal, greater, greater_equal, equal, not_equal };

/// "< 0.05" etc.: one measurement value is a good event when `value <op> threshold` holds.
struct Threshold {
  Comparison op = Comparison::less;
  double value = 0;
  bool holds(double measured) const;
  std::string to_string() const;  // "< 0.05"
};
/// Parses "< 0.05", ">=0.995", "== 0"; nullopt when malformed.
std::optional<Threshold> parse_threshold(std::string_view text);

struct SlaConfig {
  std::string name;         // unique; defaults to "<probe>_<measurement>"
  std::string probe;        // a probe name
  std::string measurement;  // a measurement name that probe produces
  std::string subjects;     // glob over the measurement's subject ("json/*"); empty: every one
  Threshold threshold;
  double objective = 0.99;  // fraction of good events required, in (0, 1)
  std::vector<Duration> windows = {std::chrono::minutes(5), std::chrono::hours(1),
                                   std::chrono::hours(24), std::chrono::hours(24 * 30)};
  bool enabled = true;  // false switches a probe's default SLA off
  std::string description;
  // What a breach costs the business; unset: the probe type's default (docs/sla.md).
  std::optional<std::string> impact;    // a label, e.g. "checkout sessions"
  std::optional<double> impact_weight;  // e.g. monthly revenue protected, in USD
  SourceLocation where;
};

/// A daily time window in UTC, "02:00-04:30"; an end before the start crosses midnight.
struct DailyWindow {
  int start_minute = 0;  // minutes after 00:00 UTC, 0..1439
  int end_minute = 0;    // exclusive
  bool contains(std::chrono::system_clock::time_point when) const;
  /// When the occurrence of the window that contains `when` opened (`when` must be inside).
  std::chrono::system_clock::time_point opened_at(std::chrono::system_clock::time_point when) const;
  std::string to_string() const;  // "02:00-04:30"
};
/// Parses "HH:MM-HH:MM" (00:00..23:59, start != end); nullopt when malformed.
std::optional<DailyWindow> parse_daily_window(std::string_view text);

/// [[experiments]]: a fault on a schedule or on demand (docs/chaos.md). The fault's params are
/// validated by the fault registry at start (daemon/experiments.h), abort_on against the SLAs.
struct ExperimentConfig {
  std::string name;   // unique
  std::string fault;  // a fault type of chaos/registry.cpp
  std::string target;
  std::string node;  // empty: the target's primary
  Duration duration = std::chrono::seconds(30);
  std::optional<Duration> interval;   // trigger = "interval"; nullopt: on demand only
  std::optional<DailyWindow> window;  // interval runs only inside this daily window (UTC)
  bool daily = false;                 // trigger = "daily": one run per day, inside `window`
  const char* trigger() const { return daily ? "daily" : interval ? "interval" : "on_demand"; }
  std::vector<std::string> abort_on;  // SLA names: a breach while the fault is on reverts it
  bool dry_run = false;               // record verdicts, inject nothing
  toml::table params;                 // moved, not copied (positions for errors)
  SourceLocation where;
};

struct Config {
  std::string source_file;  // path it was loaded from ("<embedded>" for built-ins)
  DaemonConfig daemon;
  LabConfig lab;
  ChaosConfig chaos;
  std::vector<TargetConfig> targets;
  std::vector<ProbeConfig> probes;
  std::vector<SlaConfig> slas;  // only the [[sla]] tables; probe defaults are added by the daemon
  std::vector<ExperimentConfig> experiments;

  const TargetConfig* find_target(std::string_view name) const;
  TargetConfig* find_target(std::string_view name);
  const ProbeConfig* find_probe(std::string_view name) const;
};

}  // namespace chaosd
