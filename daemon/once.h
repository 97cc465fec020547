#pragma once
// --once: run every enabled probe one time, judge the SLAs, print a table, optionally write a
// report (JSON, or JUnit XML when the file name ends in .xml), and exit 1 on any breach or failed
// probe run: a gate for CI pipelines.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/probe_runner.h"
#include "daemon/sla/sla_engine.h"

namespace chaosd {

struct SlaVerdictLine {
  SlaRule rule;
  std::string result;  // "pass", "fail", "n/a" (with a reason), "no data"
  std::optional<double> value;
  std::string reason;  // why the measurement does not apply here
};

struct OnceOutcome {
  std::vector<ProbeRun> runs;
  std::vector<SlaVerdictLine> slas;
  std::string setup_error;  // e.g. the lab did not start: nothing was measured
  bool passed() const;
};

/// Runs on its own io_context, with the lab when the config has one; deletes the probes' keys
/// afterwards. Without `duration` every probe runs once, one after the other; with it, every probe
/// runs on its interval, side by side, until the duration is over.
OnceOutcome run_every_probe_once(Config config, std::optional<Duration> duration = std::nullopt);

std::string render_sla_table(const OnceOutcome& outcome);
nlohmann::json report_json(const OnceOutcome& outcome);
std::string report_junit(const OnceOutcome& outcome);

/// The whole --once command: returns the process exit code.
int run_once_command(Config config, const std::string& report_path,
                     std::optional<Duration> duration = std::nullopt);

}  // namespace chaosd
