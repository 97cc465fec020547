// --print-config: the effective configuration, every default spelled out, as TOML that
// load_config_string() reads back to the same Config (except a redacted password).

#include <sstream>

#include "config/loader.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

// toml++ does the escaping; format_flags::none keeps plain "basic" strings on one line.
std::string toml_string(std::string_view text) {
  std::ostringstream out;
  out << toml::toml_formatter(toml::value<std::string>(std::string(text)),
                              toml::format_flags::none);
  return out.str();
}

std::string toml_bool(bool value) { return value ? "true" : "false"; }

std::string toml_duration(Duration value) { return toml_string(format_duration(value)); }

std::string toml_windows(const std::vector<Duration>& windows) {
  std::string out = "[";
  for (size_t i = 0; i < windows.size(); ++i) {
    out += (i == 0 ? "" : ", ") + toml_duration(windows[i]);
  }
  return out + "]";
}

// An inline table keeps arbitrary nesting valid inside a [[probes]] element.
std::string toml_params(const toml::table& params) {
  toml::table copy = params;
  copy.is_inline(true);
  toml::table wrapper;
  wrapper.insert("params", std::move(copy));
  std::ostringstream out;
  out << toml::toml_formatter(wrapper, toml::format_flags::none);
  return out.str();
}

std::string address_list(const std::vector<NodeAddress>& nodes) {
  std::string out = "[";
  for (size_t i = 0; i < nodes.size(); ++i) {
    out += (i ? ", " : "") + toml_string(nodes[i].to_string());
  }
  return out + "]";
}

std::string region_list(const std::vector<RegionConfig>& regions) {
  std::string out = "[";
  for (size_t i = 0; i < regions.size(); ++i) {
    out += std::string(i ? ", " : "") + "{ name = " + toml_string(regions[i].name) +
           ", address = " + toml_string(regions[i].address.to_string()) +
           ", writable = " + toml_bool(regions[i].writable) + " }";
  }
  return out + "]";
}

void line(std::ostream& out, std::string_view key, const std::string& value) {
  out << key << " = " << value << "\n";
}

void print_daemon(std::ostream& out, const DaemonConfig& daemon) {
  out << "[daemon]\n";
  line(out, "listen", toml_string(daemon.listen));
  line(out, "log_level", toml_string(daemon.log_level));
  line(out, "log_format", toml_string(daemon.log_format == LogFormat::json ? "json" : "text"));
  line(out, "state_dir", toml_string(daemon.state_dir));
  line(out, "key_prefix", toml_string(daemon.key_prefix));
  line(out, "shutdown_timeout", toml_duration(daemon.shutdown_timeout));
}

void print_lab(std::ostream& out, const LabConfig& lab) {
  out << "\n[lab]\n";
  line(out, "enabled", toml_bool(lab.enabled));
  std::string topologies = "[";
  for (size_t i = 0; i < lab.topologies.size(); ++i) {
    topologies += (i ? ", " : "") + toml_string(lab.topologies[i]);
  }
  line(out, "topologies", topologies + "]");
  line(out, "redis_server", toml_string(lab.redis_server));
  line(out, "region_b_latency", toml_duration(lab.region_b_latency));
  line(out, "region_c_latency", toml_duration(lab.region_c_latency));
}

void print_chaos(std::ostream& out, const ChaosConfig& chaos) {
  out << "\n[chaos]\n";
  line(out, "enabled", toml_bool(chaos.enabled));
  if (!chaos.token_file.empty()) line(out, "token_file", toml_string(chaos.token_file));
  if (!chaos.token.empty()) {
    out << "# token: <redacted> (from " << chaos.token_source << "; never printed)\n";
  }
  line(out, "max_active_faults", std::to_string(chaos.max_active_faults));
  line(out, "max_fault_duration", toml_duration(chaos.max_fault_duration));
  if (chaos.deadman) {
    line(out, "deadman_seconds",
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*chaos.deadman).count()));
  }
}

void print_target(std::ostream& out, const TargetConfig& target) {
  out << "\n[[targets]]\n";
  line(out, "name", toml_string(target.name));
  line(out, "kind", toml_string(to_string(target.kind)));
  switch (target.kind) {
    case TargetKind::cluster:
      line(out, "seeds", address_list(target.seeds));
      break;
    case TargetKind::regions:
      line(out, "regions", region_list(target.regions));
      break;
    default:
      line(out, "address", toml_string(NodeAddress{target.host, target.port}.to_string()));
      if (!target.replicas.empty()) line(out, "replicas", address_list(target.replicas));
  }
  if (!target.username.empty()) line(out, "username", toml_string(target.username));
  if (!target.password_env.empty()) {
    // Naming the variable round-trips without revealing anything.
    line(out, "password_env", toml_string(target.password_env));
  } else if (target.password) {
    out << "password = \"<redacted>\"  # the real password is never printed\n";
  }
  line(out, "db", std::to_string(target.db));
  line(out, "chaos_allowed", toml_bool(target.chaos_allowed));
  auto argv_line = [&](const char* key, const std::vector<std::string>& argv) {
    if (argv.empty()) return;
    std::string items = "[";
    for (size_t i = 0; i < argv.size(); ++i) items += (i ? ", " : "") + toml_string(argv[i]);
    line(out, key, items + "]");
  };
  argv_line("kill_command", target.kill_command);
  argv_line("restart_command", target.restart_command);
  if (!target.proxy_listen.empty()) line(out, "proxy_listen", toml_string(target.proxy_listen));
  line(out, "connect_timeout", toml_duration(target.connect_timeout));
  line(out, "command_timeout", toml_duration(target.command_timeout));
}

void print_probe(std::ostream& out, const ProbeConfig& probe) {
  out << "\n[[probes]]\n";
  line(out, "name", toml_string(probe.name));
  line(out, "type", toml_string(probe.type));
  line(out, "target", toml_string(probe.target));
  line(out, "interval", toml_duration(probe.interval));
  line(out, "timeout", toml_duration(probe.timeout));
  line(out, "enabled", toml_bool(probe.enabled));
  if (!probe.params.empty()) out << toml_params(probe.params) << "\n";
}

void print_sla(std::ostream& out, const SlaConfig& sla) {
  out << "\n[[sla]]\n";
  line(out, "name", toml_string(sla.name));
  line(out, "probe", toml_string(sla.probe));
  line(out, "measurement", toml_string(sla.measurement));
  line(out, "threshold", toml_string(sla.threshold.to_string()));
  line(out, "objective", format_number(sla.objective));
  line(out, "windows", toml_windows(sla.windows));
  line(out, "enabled", toml_bool(sla.enabled));
  if (!sla.subjects.empty()) line(out, "subjects", toml_string(sla.subjects));
  if (!sla.description.empty()) line(out, "description", toml_string(sla.description));
  if (sla.impact) line(out, "impact", toml_string(*sla.impact));
  if (sla.impact_weight) line(out, "impact_weight", format_number(*sla.impact_weight));
}

void print_experiment(std::ostream& out, const ExperimentConfig& experiment) {
  out << "\n[[experiments]]\n";
  line(out, "name", toml_string(experiment.name));
  line(out, "fault", toml_string(experiment.fault));
  line(out, "target", toml_string(experiment.target));
  if (!experiment.node.empty()) line(out, "node", toml_string(experiment.node));
  line(out, "duration", toml_duration(experiment.duration));
  line(out, "trigger", toml_string(experiment.trigger()));
  if (experiment.interval) line(out, "interval", toml_duration(*experiment.interval));
  if (experiment.window) line(out, "window", toml_string(experiment.window->to_string()));
  std::string names = "[";
  for (size_t i = 0; i < experiment.abort_on.size(); ++i) {
    names += (i ? ", " : "") + toml_string(experiment.abort_on[i]);
  }
  line(out, "abort_on", names + "]");
  line(out, "dry_run", toml_bool(experiment.dry_run));
  if (!experiment.params.empty()) out << toml_params(experiment.params) << "\n";
}

}  // namespace

std::string print_config(const Config& config) {
  std::ostringstream out;
  out << "# Effective configuration of redis-chaosd loaded from " << config.source_file
      << ", defaults filled in.\n\n";
  print_daemon(out, config.daemon);
  if (config.lab.enabled) print_lab(out, config.lab);
  print_chaos(out, config.chaos);
  // Lab targets come from [lab]; printing them as [[targets]] would not load again.
  for (const TargetConfig& target : config.targets) {
    if (!target.lab) print_target(out, target);
  }
  for (const ProbeConfig& probe : config.probes) print_probe(out, probe);
  for (const SlaConfig& sla : config.slas) print_sla(out, sla);
  for (const ExperimentConfig& experiment : config.experiments) print_experiment(out, experiment);
  return out.str();
}

}  // namespace chaosd
