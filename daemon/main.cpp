// redis-chaosd entry point: parse the command line, load the config, run the daemon.

#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "build_info.h"
#include "config/loader.h"
#include "daemon/chaos_service.h"
#include "daemon/cli.h"
#include "daemon/daemon.h"
#include "daemon/once.h"
#include "daemon/util/logging.h"
#include "lab_config.h"
#include "probes/registry.h"

int main(int argc, char** argv) {
  using namespace chaosd;
  // A peer closing its socket must be an error code on write, not a process kill.
  std::signal(SIGPIPE, SIG_IGN);

  CliParse cli = parse_cli(std::vector<std::string>(argv + 1, argv + argc));
  if (!cli.error.empty()) {
    std::cerr << "redis-chaosd: " << cli.error << "\n";
    return 2;
  }
  const CliOptions& options = cli.options;
  if (options.help) {
    std::cout << usage_text();
    return 0;
  }
  if (options.version) {
    std::cout << "redis-chaosd " << kVersion << "\n";
    return 0;
  }

  ProbeRegistryCatalog catalog;
  Config config;
  try {
    config = options.lab
                 ? load_config_string(kEmbeddedLabToml, "<embedded config/lab.toml>", &catalog)
                 : load_config_file(options.config_path, &catalog);
    validate_experiments(config);
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  if (options.check_config) {
    std::cout << (options.lab ? "lab config" : options.config_path) << ": ok ("
              << config.targets.size() << " targets, " << config.probes.size() << " probes, "
              << config.slas.size() << " SLAs)\n";
    return 0;
  }
  if (options.print_config) {
    std::cout << print_config(config);
    return 0;
  }

  setup_logging(options.log_level.value_or(config.daemon.log_level), config.daemon.log_format);
  if (options.once) {
    return run_once_command(std::move(config), options.report_path, options.duration);
  }
  try {
    Daemon daemon(std::move(config),
                  DaemonOptions{options.config_path, options.listen, options.log_level});
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("redis-chaosd failed: {}", e.what());
    return 1;
  }
}
