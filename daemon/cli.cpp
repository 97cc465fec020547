#include "daemon/cli.h"

#include "daemon/util/logging.h"

namespace chaosd {

std::string usage_text() {
  return R"(usage: redis-chaosd --config FILE [options]
       redis-chaosd --lab [options]

Probes a Redis deployment continuously, judges each measurement against its SLA and exports
compliance, error budgets and burn rates as Prometheus metrics and an HTTP status API.

options:
  --config FILE       TOML configuration (see config/examples/)
  --lab               start an embedded lab of redis-server processes and probe it
                      (config/lab.toml, compiled in; the same as a [lab] table in a config)
  --check-config      validate the configuration and exit (0 valid, 2 invalid)
  --print-config      print the effective configuration (defaults filled, secrets redacted)
  --once              run every probe once, print the SLA table, exit 1 on any breach (CI gate)
  --duration D        with --once: run every probe on its interval for D (e.g. 5m) instead of
                      once; every run of the period is judged
  --report FILE       with --once: write the results as JSON, or JUnit XML if FILE ends in .xml
  --listen HOST:PORT  HTTP address, overrides daemon.listen (port 0 picks a free port)
  --log-level LEVEL   trace, debug, info, warn, error, critical or off
  --version           print the version and exit
  --help              print this help and exit

signals: SIGHUP reloads the configuration; SIGTERM/SIGINT stop probes, delete their keys, exit.
exit codes: 0 clean stop, 1 runtime failure, 2 usage or configuration error.
)";
}

CliParse parse_cli(const std::vector<std::string>& args) {
  CliParse out;
  auto& o = out.options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    // Both "--flag value" and "--flag=value".
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return args[++i];
      out.error = name + " needs a value";
      return std::nullopt;
    };
    if (name == "--config") {
      if (auto v = value()) o.config_path = *v;
    } else if (name == "--listen") {
      if (auto v = value()) o.listen = *v;
    } else if (name == "--log-level") {
      if (auto v = value()) {
        if (!is_log_level(*v)) {
          out.error = "--log-level " + *v +
                      ": unknown level (use trace, debug, info, warn, error, critical or off)";
        }
        o.log_level = *v;
      }
    } else if (name == "--duration") {
      if (auto v = value()) {
        o.duration = parse_duration(*v);
        if (!o.duration || *o.duration <= Duration::zero()) {
          out.error = "--duration " + *v + ": not a positive duration (e.g. 90s, 5m, 1h)";
        }
      }
    } else if (name == "--report") {
      if (auto v = value()) o.report_path = *v;
    } else if (name == "--lab" && !inline_value) {
      o.lab = true;
    } else if (name == "--once" && !inline_value) {
      o.once = true;
    } else if (name == "--check-config" && !inline_value) {
      o.check_config = true;
    } else if (name == "--print-config" && !inline_value) {
      o.print_config = true;
    } else if (name == "--version" && !inline_value) {
      o.version = true;
    } else if ((name == "--help" || name == "-h") && !inline_value) {
      o.help = true;
    } else {
      out.error = "unknown option " + arg + " (see --help)";
    }
    if (!out.error.empty()) return out;
  }
  if (!o.report_path.empty() && !o.once) {
    out.error = "--report needs --once";
    return out;
  }
  if (o.duration && !o.once) {
    out.error = "--duration needs --once";
    return out;
  }
  if (o.lab && !o.config_path.empty()) {
    out.error =
        "--lab runs the built-in lab config; to combine a lab with your own config, add a "
        "[lab] table to it instead";
    return out;
  }
  if (!o.help && !o.version && !o.lab && o.config_path.empty()) {
    out.error =
        "missing --config FILE or --lab (see --help; config/examples/minimal.toml is a start)";
  }
  return out;
}

}  // namespace chaosd
