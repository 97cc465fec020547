#include "config/loader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "config/toml_reader.h"

namespace chaosd {
namespace {

using namespace std::chrono_literals;

constexpr Duration kPositive = Duration(1);  // read_duration() words this minimum as "> 0"
constexpr Duration kNoLimit = Duration::max();
constexpr Duration kMaxTimeout = 1h;
constexpr Duration kMinProbeInterval = 10ms;  // below this a probe measures its own scheduling
constexpr Duration kMinSlaWindow = 10s;

const std::vector<std::string> kLogLevels = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};
const std::vector<std::string> kLogFormats = {"text", "json"};
const std::vector<std::string> kTargetKinds = {"standalone", "replicated", "cluster", "regions"};
const std::vector<std::string> kLabTopologies = {"standalone", "replicated", "cluster", "regions",
                                                 "eviction"};

constexpr std::string_view kAddressExamples = R"((use e.g. "127.0.0.1:6379" or "[::1]:6379"))";

// Names end up in Redis keys, CLIENT SETNAME and metric labels: keep them to a safe alphabet.
bool is_identifier(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

template <typename T, typename U>
void assign(std::optional<T> value, U& out) {
  if (value) out = std::move(*value);
}

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  uint16_t port = 0;
};

// Splits "host:port" or "[v6]:port"; on failure returns nullopt and says why in `why`.
std::optional<HostPort> parse_host_port(std::string_view text, std::string& why) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      why = " is not [ipv6]:port " + std::string(kAddressExamples);
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      why = " is not host:port " + std::string(kAddressExamples);
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      why = R"( looks like an IPv6 address without brackets (write e.g. "[::1]:6379"))";
      return std::nullopt;
    }
  }
  if (host.empty() || std::any_of(host.begin(), host.end(), [](char c) { return c == ' '; })) {
    why = " has no valid host " + std::string(kAddressExamples);
    return std::nullopt;
  }
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  int number = digits ? std::stoi(std::string(port)) : 0;
  if (number < 1 || number > 65535) {
    why = " has an invalid port; use a number from 1 to 65535";
    return std::nullopt;
  }
  return HostPort{std::string(host), static_cast<uint16_t>(number)};
}

HostPort read_address(const TableReader& table, std::string_view key, const std::string& text) {
  std::string why;
  std::optional<HostPort> address = parse_host_port(text, why);
  if (!address) table.fail(key, in_quotes(text) + why);
  return *address;
}

std::vector<std::string> names_of(const auto& items) {
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(item.name);
  return names;
}

// Turns a parsed document into a Config, section by section, in dependency order: targets, then
// the probes that name them, then the SLAs that name probes.
class Loader {
 public:
  Loader(std::string file, const ProbeCatalog* catalog)
      : file_(std::move(file)), catalog_(catalog) {}

  Config load(toml::table& document) {
    TableReader root(document, "", file_);
    std::optional<TableReader> daemon = root.get_table("daemon");
    std::optional<TableReader> lab = root.get_table("lab");
    std::optional<TableReader> chaos = root.get_table("chaos");
    std::vector<TableReader> targets = root.get_table_array("targets");
    std::vector<TableReader> probes = root.get_table_array("probes");
    std::vector<TableReader> slas = root.get_table_array("sla");
    std::vector<TableReader> experiments = root.get_table_array("experiments");
    root.finish();

    config_.source_file = file_;
    if (daemon) read_daemon(*daemon);
    if (lab) read_lab(*lab);
    if (chaos) read_chaos(*chaos);
    for (TableReader& target : targets) config_.targets.push_back(read_target(target));
    if (chaos) require_chaos_token(*chaos);
    if (config_.targets.empty()) {
      root.fail("targets",
                "no Redis target configured; add a [[targets]] table with a name and an "
                "address, e.g. address = \"127.0.0.1:6379\" (or a [lab] table, or run --lab)");
    }
    for (TableReader& probe : probes) config_.probes.push_back(read_probe(probe));
    for (TableReader& sla : slas) config_.slas.push_back(read_sla(sla));
    for (TableReader& experiment : experiments) {
      config_.experiments.push_back(read_experiment(experiment));
    }
    return std::move(config_);
  }

 private:
  void read_daemon(TableReader& table) {
    table.expect_only(
        {"listen", "log_level", "log_format", "state_dir", "key_prefix", "shutdown_timeout"});
    DaemonConfig& daemon = config_.daemon;
    if (std::optional<std::string> listen = table.get_string("listen")) {
      read_address(table, "listen", *listen);
      daemon.listen = *listen;
    }
    assign(table.get_choice("log_level", kLogLevels), daemon.log_level);
    if (std::optional<std::string> format = table.get_choice("log_format", kLogFormats)) {
      daemon.log_format = *format == "json" ? LogFormat::json : LogFormat::text;
    }
    assign(table.get_string("state_dir"), daemon.state_dir);
    if (daemon.state_dir.empty()) {
      table.fail("state_dir",
                 "must not be empty; use a writable directory, e.g. \"/var/lib/chaosd\"");
    }
    assign(table.get_string("key_prefix"), daemon.key_prefix);
    check_key_prefix(table, daemon.key_prefix);
    assign(table.get_duration("shutdown_timeout", kPositive, kMaxTimeout), daemon.shutdown_timeout);
  }

  static void check_key_prefix(const TableReader& table, const std::string& prefix) {
    // Probes build "{prefix}:{probe}:" with their own hash tags; braces or spaces would break them.
    // Cleanup deletes "SCAN MATCH <prefix>*": a glob character would delete other people's keys.
    bool bad = prefix.empty() || prefix.find_first_of(" \t\r\n{}*?[]\\") != std::string::npos;
    if (bad) {
      table.fail("key_prefix", in_quotes(prefix) +
                                   " is not a usable key prefix; it must be non-empty, without "
                                   "spaces, '{' '}' or glob characters * ? [ ] \\ (use e.g. "
                                   "\"chaosd\")");
    }
  }

  TargetConfig read_target(TableReader& table) {
    table.expect_only({"name", "kind", "address", "replicas", "seeds", "regions", "username",
                       "password", "password_env", "db", "chaos_allowed", "connect_timeout",
                       "command_timeout", "kill_command", "restart_command", "proxy_listen"});
    TargetConfig target;
    target.where = table.where();
    target.name = table.require_string("name", "\"main\"");
    check_name(table, "name", target.name, target_names_, "[[targets]]");
    target.kind = kind_of(table.get_choice("kind", kTargetKinds).value_or("standalone"));
    read_endpoints(table, target);
    assign(table.get_string("username"), target.username);
    read_password(table, target);
    assign(table.get_int("db", 0, 10000), target.db);
    assign(table.get_bool("chaos_allowed"), target.chaos_allowed);
    for (const char* key : {"kill_command", "restart_command"}) {
      std::optional<std::vector<std::string>> argv = table.get_string_array(key);
      if (!argv) continue;
      if (argv->empty() || argv->front().empty()) {
        table.fail(key, std::string("needs a program and its arguments, e.g. ") + key +
                            " = [\"systemctl\", \"restart\", \"redis@{port}\"]");
      }
      (std::string_view(key) == "kill_command" ? target.kill_command : target.restart_command) =
          *argv;
    }
    if (std::optional<std::string> listen = table.get_string("proxy_listen")) {
      HostPort at = read_address(table, "proxy_listen", *listen);
      if (target.kind != TargetKind::standalone && target.kind != TargetKind::replicated) {
        table.fail("proxy_listen",
                   "only a standalone or replicated target can be fronted by a proxy link (cluster "
                   "and region nodes announce their own addresses to clients)");
      }
      if (at.host != "127.0.0.1" && at.host != "localhost" && at.host != "::1" &&
          at.host.rfind("127.", 0) != 0) {
        table.fail("proxy_listen",
                   "the fault proxy listens on loopback only (e.g. "
                   "\"127.0.0.1:16379\")");
      }
      target.proxy_listen = *listen;
    }
    assign(table.get_duration("connect_timeout", kPositive, kMaxTimeout), target.connect_timeout);
    assign(table.get_duration("command_timeout", kPositive, kMaxTimeout), target.command_timeout);
    return target;
  }

  static TargetKind kind_of(const std::string& name) {
    if (name == "replicated") return TargetKind::replicated;
    if (name == "cluster") return TargetKind::cluster;
    if (name == "regions") return TargetKind::regions;
    return TargetKind::standalone;
  }

  // Which address keys a target needs depends on its kind: a cluster has seeds, regions have
  // regions, the others an address (and replicated may list its replicas).
  static void read_endpoints(TableReader& table, TargetConfig& target) {
    const char* kind = to_string(target.kind);
    auto refuse = [&](std::string_view key, const char* instead) {
      if (table.find(key) != nullptr) {
        table.fail(key,
                   std::string(key) + " does not apply to kind = \"" + kind + "\"; " + instead);
      }
    };
    if (target.kind == TargetKind::cluster) {
      refuse("address", "list the cluster's nodes in seeds = [\"host:port\", ...]");
      refuse("replicas", "a cluster's replicas are discovered from its slot map");
      refuse("regions", "regions are a kind of their own");
      target.seeds = read_address_list(table, "seeds", true);
      target.host = target.seeds.front().host;
      target.port = target.seeds.front().port;
      return;
    }
    if (target.kind == TargetKind::regions) {
      refuse("address", "give each region its address in regions = [{...}]");
      refuse("replicas", "replica regions are listed in regions");
      refuse("seeds", "seeds are for kind = \"cluster\"");
      read_regions(table, target);
      return;
    }
    refuse("seeds", "seeds are for kind = \"cluster\"");
    refuse("regions", "regions are for kind = \"regions\"");
    if (target.kind == TargetKind::standalone) {
      refuse("replicas", "use kind = \"replicated\" for a primary with replicas");
    } else {
      target.replicas = read_address_list(table, "replicas", false);
    }
    HostPort address =
        read_address(table, "address", table.require_string("address", "\"127.0.0.1:6379\""));
    target.host = address.host;
    target.port = address.port;
  }

  static std::vector<NodeAddress> read_address_list(TableReader& table, std::string_view key,
                                                    bool required) {
    std::optional<std::vector<std::string>> texts = table.get_string_array(key);
    if (!texts || texts->empty()) {
      if (!required) return {};
      table.fail_missing(key, "list at least one node, e.g. " + std::string(key) +
                                  " = [\"127.0.0.1:7000\", \"127.0.0.1:7001\"]");
    }
    std::vector<NodeAddress> out;
    for (const std::string& text : *texts) {
      HostPort a = read_address(table, key, text);
      out.push_back({a.host, a.port});
    }
    return out;
  }

  static void read_regions(TableReader& table, TargetConfig& target) {
    std::vector<TableReader> regions = table.get_table_array("regions");
    if (regions.size() < 2) {
      table.fail_missing("regions",
                         "a regions target needs at least two regions, e.g. regions = "
                         "[{name = \"eu\", address = \"10.0.0.1:6379\", writable = "
                         "true}, {name = \"us\", address = \"10.1.0.1:6379\"}]");
    }
    std::set<std::string, std::less<>> names;
    for (TableReader& region : regions) {
      region.expect_only({"name", "address", "writable"});
      RegionConfig r;
      r.name = region.require_string("name", "\"eu\"");
      if (!is_identifier(r.name) || !names.insert(r.name).second) {
        region.fail("name", in_quotes(r.name) +
                                " is not a unique region name of letters, digits, "
                                "'_' or '-'");
      }
      HostPort a = read_address(region, "address", region.require_string("address", "\"h:6379\""));
      r.address = {a.host, a.port};
      assign(region.get_bool("writable"), r.writable);
      target.regions.push_back(std::move(r));
    }
    auto writable = std::find_if(target.regions.begin(), target.regions.end(),
                                 [](const RegionConfig& r) { return r.writable; });
    if (writable == target.regions.end()) {
      table.fail("regions", "no region is writable; mark the primary's region writable = true");
    }
    target.host = writable->address.host;
    target.port = writable->address.port;
  }

  // Each lab topology is a target named after it; its addresses are known only once the lab has
  // started its processes.
  void read_lab(TableReader& table) {
    table.expect_only(
        {"enabled", "topologies", "redis_server", "region_b_latency", "region_c_latency"});
    LabConfig& lab = config_.lab;
    lab.enabled = table.get_bool("enabled").value_or(true);
    if (auto topologies = table.get_string_array("topologies")) {
      std::set<std::string, std::less<>> seen;
      for (const std::string& t : *topologies) {
        if (std::find(kLabTopologies.begin(), kLabTopologies.end(), t) == kLabTopologies.end() ||
            !seen.insert(t).second) {
          table.fail("topologies", in_quotes(t) +
                                       " is not a lab topology, or is listed twice; use "
                                       "some of: " +
                                       join_names(kLabTopologies));
        }
      }
      lab.topologies = *topologies;
    }
    assign(table.get_string("redis_server"), lab.redis_server);
    assign(table.get_duration("region_b_latency", Duration::zero(), std::chrono::seconds(10)),
           lab.region_b_latency);
    assign(table.get_duration("region_c_latency", Duration::zero(), std::chrono::seconds(10)),
           lab.region_c_latency);
    if (!lab.enabled) return;
    for (const std::string& topology : lab.topologies) {
      TargetConfig target;
      target.name = topology;
      target.kind = kind_of(topology);
      target.host = "127.0.0.1";
      target.port = 0;
      target.lab = true;
      target.chaos_allowed = true;  // the lab's own processes are there to be broken
      target.where = table.where();
      target_names_.insert({topology, target.where});
      config_.targets.push_back(std::move(target));
    }
  }

  // The token is resolved here so that a chaos-enabled config without one fails at load time
  // (the lab alone may go without: the daemon generates one at start and logs it).
  void read_chaos(TableReader& table) {
    table.expect_only(
        {"enabled", "token_file", "max_active_faults", "max_fault_duration", "deadman_seconds"});
    ChaosConfig& chaos = config_.chaos;
    chaos.where = table.where();
    assign(table.get_bool("enabled"), chaos.enabled);
    if (std::optional<std::string> file = table.get_string("token_file")) {
      chaos.token_file = *file;
      std::ifstream in(*file, std::ios::binary);
      if (!in) {
        table.fail("token_file", "cannot read " + in_quotes(*file) + " (" +
                                     std::string(std::strerror(errno)) +
                                     "); write the token into it (e.g. openssl rand -hex 32)");
      }
      std::ostringstream text;
      text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
        token.pop_back();
      }
      if (token.size() < 16 || token.find_first_of(" \t\r\n") != std::string::npos) {
        table.fail("token_file", in_quotes(*file) +
                                     " must hold one token of at least 16 characters without "
                                     "spaces (e.g. openssl rand -hex 32)");
      }
      chaos.token = token;
      chaos.token_source = "token_file";
    } else if (const char* env = std::getenv(kChaosTokenEnv); env != nullptr && *env != '\0') {
      chaos.token = env;
      chaos.token_source = std::string("env ") + kChaosTokenEnv;
      if (chaos.enabled && chaos.token.size() < 16) {
        table.fail("enabled", std::string("the token in ") + kChaosTokenEnv + " has " +
                                  std::to_string(chaos.token.size()) +
                                  " characters; it needs at least 16 (e.g. openssl rand -hex 32)");
      }
    }
    assign(table.get_int("max_active_faults", 1, 100), chaos.max_active_faults);
    assign(
        table.get_duration("max_fault_duration", std::chrono::seconds(1), std::chrono::hours(24)),
        chaos.max_fault_duration);
    if (std::optional<int64_t> deadman = table.get_int("deadman_seconds", 1, 86400)) {
      chaos.deadman = std::chrono::seconds(*deadman);
    }
  }

  // After the targets: the lab may go without a token (the daemon generates one and logs it), but
  // not once an external target allows chaos: the log line would be its only key.
  void require_chaos_token(TableReader& table) {
    const ChaosConfig& chaos = config_.chaos;
    if (!chaos.enabled || !chaos.token.empty()) return;
    std::string external;
    for (const TargetConfig& target : config_.targets) {
      if (target.chaos_allowed && !target.lab) external = target.name;
    }
    if (config_.lab.enabled && external.empty()) return;
    table.fail("enabled", std::string("chaos is enabled but there is no token for the HTTP API") +
                              (external.empty() ? ""
                                                : " (target " + in_quotes(external) +
                                                      " is not a lab node and allows chaos)") +
                              "; set token_file = \"/etc/redis-chaosd/token\" or export " +
                              kChaosTokenEnv);
  }

  // The fault's params and the abort_on SLA names are checked by the daemon at start
  // (validate_experiments): the fault registry and the default SLAs live outside the config.
  ExperimentConfig read_experiment(TableReader& table) {
    table.expect_only({"name", "fault", "target", "node", "params", "duration", "trigger",
                       "interval", "window", "abort_on", "dry_run"});
    ExperimentConfig experiment;
    experiment.where = table.where();
    experiment.name = table.require_string("name", "\"squeeze-memory\"");
    check_name(table, "name", experiment.name, experiment_names_, "[[experiments]]");
    experiment.fault = table.require_string("fault", "\"memory_pressure\"");
    if (!is_identifier(experiment.fault)) {
      table.fail("fault", in_quotes(experiment.fault) + " is not a fault type name");
    }
    experiment.target = table.require_string("target", "\"main\"");
    const TargetConfig* target = config_.find_target(experiment.target);
    if (target == nullptr) {
      table.fail("target", "no target named " + in_quotes(experiment.target) +
                               "; known targets: " + join_names(names_of(config_.targets)));
    }
    if (!target->chaos_allowed) {
      table.fail("target", "target " + in_quotes(experiment.target) +
                               " does not allow chaos; set chaos_allowed = true on it");
    }
    if (!config_.chaos.enabled) {
      table.fail("fault", "experiments need the chaos engine; add [chaos] enabled = true");
    }
    assign(table.get_string("node"), experiment.node);
    assign(table.get_duration("duration", kPositive, config_.chaos.max_fault_duration),
           experiment.duration);
    std::string trigger = table.get_choice("trigger", {"interval", "daily", "on_demand"})
                              .value_or(table.find("interval") ? "interval" : "on_demand");
    std::optional<Duration> interval =
        table.get_duration("interval", std::chrono::seconds(1), kNoLimit);
    if (trigger == "interval" && !interval) {
      table.fail_missing("interval", "trigger = \"interval\" needs interval = \"10m\"");
    }
    if (trigger == "on_demand" && interval) {
      table.fail("interval", "an on_demand experiment has no interval; remove it");
    }
    if (trigger == "daily" && interval) {
      table.fail("interval",
                 "a daily experiment runs once a day inside its window; remove interval");
    }
    experiment.interval = interval;
    experiment.daily = trigger == "daily";
    if (std::optional<std::string> window = table.get_string("window")) {
      experiment.window = parse_daily_window(*window);
      if (!experiment.window) {
        table.fail("window", in_quotes(*window) +
                                 R"( is not a daily window in UTC (use e.g. "02:00-04:30"))");
      }
      if (!interval && !experiment.daily) {
        table.fail("window",
                   "a window limits interval runs; add interval = \"30m\" (or trigger = \"daily\" "
                   "for one run a day inside it)");
      }
    }
    if (experiment.daily && !experiment.window) {
      table.fail_missing("window", "trigger = \"daily\" needs window = \"02:00-04:00\" (UTC)");
    }
    assign(table.get_string_array("abort_on"), experiment.abort_on);
    assign(table.get_bool("dry_run"), experiment.dry_run);
    assign(table.take_table("params"), experiment.params);
    return experiment;
  }

  static void read_password(TableReader& table, TargetConfig& target) {
    std::optional<std::string> password = table.get_string("password");
    std::optional<std::string> env = table.get_string("password_env");
    if (password && env) {
      table.fail("password_env",
                 "set either password or password_env, not both (password_env keeps the secret "
                 "out of the file)");
    }
    target.password = password;
    if (!env) return;
    const char* value = env->empty() ? nullptr : std::getenv(env->c_str());
    if (value == nullptr) {
      table.fail("password_env", "environment variable " + in_quotes(*env) +
                                     " is not set; export it before starting redis-chaosd, or "
                                     "remove password_env");
    }
    target.password = value;
    target.password_env = *env;
  }

  ProbeConfig read_probe(TableReader& table) {
    table.expect_only({"type", "name", "target", "interval", "timeout", "enabled", "params"});
    ProbeConfig probe;
    probe.where = table.where();
    probe.type = table.require_string("type", "\"latency\"");
    check_probe_type(table, probe.type);
    probe.name = table.get_string("name").value_or(probe.type);
    check_name(table, "name", probe.name, probe_names_, "[[probes]]");
    probe.target = read_probe_target(table);
    assign(table.get_duration("interval", kMinProbeInterval, kNoLimit), probe.interval);
    assign(table.get_duration("timeout", kPositive, kMaxTimeout), probe.timeout);
    assign(table.get_bool("enabled"), probe.enabled);
    assign(table.take_table("params"), probe.params);
    if (catalog_ != nullptr) catalog_->validate_params(probe, table.path_of("params"));
    return probe;
  }

  void check_probe_type(const TableReader& table, const std::string& type) const {
    if (catalog_ == nullptr) {
      if (!is_identifier(type)) table.fail("type", in_quotes(type) + " is not a probe type name");
      return;
    }
    if (catalog_->has_type(type)) return;
    std::vector<std::string> known = catalog_->types();
    std::string suggestion = closest_name(type, known);
    table.fail("type",
               "unknown probe type " + in_quotes(type) + "; " +
                   (suggestion.empty() ? "" : "did you mean " + in_quotes(suggestion) + "? ") +
                   "known types: " + join_names(known));
  }

  std::string read_probe_target(TableReader& table) const {
    std::optional<std::string> name = table.get_string("target");
    std::vector<std::string> known = names_of(config_.targets);
    if (!name) {
      // With a single target there is nothing to choose; with several, guessing would be wrong.
      if (known.size() == 1) return known.front();
      table.fail_missing("target", "there are " + std::to_string(known.size()) + " targets (" +
                                       join_names(known) + "), name the one this probe checks, " +
                                       "e.g. target = " + in_quotes(known.front()));
    }
    if (config_.find_target(*name) == nullptr) {
      table.fail("target",
                 "no target named " + in_quotes(*name) + "; known targets: " + join_names(known));
    }
    return *name;
  }

  SlaConfig read_sla(TableReader& table) {
    table.expect_only({"name", "probe", "measurement", "subjects", "threshold", "objective",
                       "windows", "enabled", "description", "impact", "impact_weight"});
    SlaConfig sla;
    sla.where = table.where();
    sla.probe = table.require_string("probe", "\"ttl\"");
    const ProbeConfig& probe = find_sla_probe(table, sla.probe);
    sla.measurement = table.require_string("measurement", "\"expiry_timing_error_seconds\"");
    check_measurement(table, probe, sla.measurement);
    assign(table.get_string("subjects"), sla.subjects);
    sla.name = table.get_string("name").value_or(sla.probe + "_" + sla.measurement);
    check_name(table, "name", sla.name, sla_names_, "[[sla]]");
    std::string threshold = table.require_string("threshold", "\"< 0.05\"");
    std::optional<Threshold> parsed = parse_threshold(threshold);
    if (!parsed) {
      table.fail("threshold", in_quotes(threshold) +
                                  R"( is not a threshold (use e.g. "< 0.05", ">= 0.995", "== 0"))");
    }
    sla.threshold = *parsed;
    read_objective(table, sla.objective);
    read_windows(table, sla.windows);
    assign(table.get_bool("enabled"), sla.enabled);
    assign(table.get_string("description"), sla.description);
    sla.impact = table.get_string("impact");
    sla.impact_weight = table.get_double("impact_weight", 0, 1e12);
    return sla;
  }

  const ProbeConfig& find_sla_probe(const TableReader& table, const std::string& name) const {
    if (const ProbeConfig* probe = config_.find_probe(name)) return *probe;
    if (config_.probes.empty()) {
      table.fail("probe", "no probe named " + in_quotes(name) +
                              "; no probes are configured, add a [[probes]] table first");
    }
    table.fail("probe", "no probe named " + in_quotes(name) +
                            "; configured probes: " + join_names(names_of(config_.probes)));
  }

  void check_measurement(const TableReader& table, const ProbeConfig& probe,
                         const std::string& measurement) const {
    if (catalog_ == nullptr) return;
    std::vector<std::string> known = catalog_->measurements(probe.type);
    if (std::find(known.begin(), known.end(), measurement) != known.end()) return;
    table.fail("measurement", in_quotes(measurement) + " is not a measurement of probe type " +
                                  in_quotes(probe.type) + "; it produces: " + join_names(known));
  }

  static void read_objective(TableReader& table, double& objective) {
    const toml::node* node = table.find("objective");
    if (node == nullptr) return;
    const char* kExpected = "expected a fraction strictly between 0 and 1 (e.g. 0.999)";
    // An integer is 0 or 1 here: both are impossible objectives, and 1 is a common slip for 1.0.
    if (const auto* integer = node->as_integer()) {
      table.fail("objective",
                 std::string(kExpected) + ", got integer " + std::to_string(integer->get()));
    }
    const auto* number = node->as_floating_point();
    if (number == nullptr) {
      table.fail("objective",
                 std::string(kExpected) + ", got " + std::string(toml_type_name(*node)));
    }
    if (!(number->get() > 0 && number->get() < 1)) {
      table.fail("objective", format_number(number->get()) +
                                  " is not strictly between 0 and 1; an objective is the fraction "
                                  "of good events required, e.g. 0.999");
    }
    objective = number->get();
  }

  void read_windows(TableReader& table, std::vector<Duration>& windows) const {
    const toml::node* node = table.find("windows");
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      fail_type(*node, file_, table.path_of("windows"),
                R"(an array of durations (e.g. ["5m", "1h"]))");
    }
    if (array->empty()) {
      table.fail("windows", R"(must list at least one window (e.g. ["5m", "1h"]); )"
                            "leave it out for the defaults");
    }
    struct Window {
      Duration length;
      size_t index;
    };
    std::vector<Window> read;
    for (size_t i = 0; i < array->size(); ++i) {
      read.push_back(
          {read_duration((*array)[i], file_, element_path(table, i), kMinSlaWindow, kNoLimit), i});
    }
    std::stable_sort(read.begin(), read.end(),
                     [](const Window& a, const Window& b) { return a.length < b.length; });
    for (size_t i = 1; i < read.size(); ++i) {
      if (read[i].length != read[i - 1].length) continue;
      const toml::node& repeated = (*array)[read[i].index];
      fail_at(repeated.source(), file_, element_path(table, read[i].index),
              "repeats the window " + format_duration(read[i].length) + " of " +
                  element_path(table, read[i - 1].index) + "; list each window once");
    }
    windows.clear();
    for (const Window& window : read) windows.push_back(window.length);
  }

  static std::string element_path(const TableReader& table, size_t index) {
    return table.path_of("windows") + "[" + std::to_string(index) + "]";
  }

  static void check_name(const TableReader& table, std::string_view key, const std::string& name,
                         std::map<std::string, SourceLocation>& seen, std::string_view section) {
    if (!is_identifier(name)) {
      table.fail(key,
                 in_quotes(name) + " is not a valid name; use only letters, digits, '_' and '-'");
    }
    auto [previous, inserted] = seen.emplace(name, table.where_of(key));
    if (!inserted) {
      table.fail(key, "duplicate name " + in_quotes(name) + " (the other one is at " +
                          previous->second.to_string() + "); give each " + std::string(section) +
                          " a distinct `name`");
    }
  }

  std::string file_;
  const ProbeCatalog* catalog_;
  Config config_;
  std::map<std::string, SourceLocation> target_names_;
  std::map<std::string, SourceLocation> probe_names_;
  std::map<std::string, SourceLocation> sla_names_;
  std::map<std::string, SourceLocation> experiment_names_;
};

}  // namespace

Config load_config_string(std::string_view toml_text, const std::string& source_name,
                          const ProbeCatalog* catalog) {
  toml::table document;
  try {
    document = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& error) {
    SourceLocation where{source_name, static_cast<int>(error.source().begin.line),
                         static_cast<int>(error.source().begin.column)};
    throw ConfigError(std::move(where), "", std::string(error.description()));
  }
  return Loader(source_name, catalog).load(document);
}

Config load_config_file(const std::string& path, const ProbeCatalog* catalog) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(SourceLocation{path}, "",
                      "cannot read the config file (" + std::string(std::strerror(errno)) +
                          "); check the path given to --config");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_string(text.str(), path, catalog);
}

}  // namespace chaosd
