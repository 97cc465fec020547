#pragma once
// Command-line parsing for redis-chaosd (DESIGN.md §8). Pure: no I/O, so it is unit-tested.

#include <optional>
#include <string>
#include <vector>

#include "config/duration.h"

namespace chaosd {

struct CliOptions {
  std::string config_path;
  bool lab = false;  // run on the embedded lab (config/lab.toml compiled in)
  bool check_config = false;
  bool once = false;
  std::string report_path;           // with --once
  std::optional<Duration> duration;  // with --once: run on the schedule for this long
  bool print_config = false;
  bool version = false;
  bool help = false;
  std::optional<std::string> log_level;
  std::optional<std::string> listen;
};

struct CliParse {
  CliOptions options;
  std::string error;  // non-empty: a usage error (exit 2)
};

CliParse parse_cli(const std::vector<std::string>& args);
std::string usage_text();

}  // namespace chaosd
