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
  std::string result;  // "pass", "fail", "no data"
  std::optional<double> value;
};

struct OnceOutcome {
  std::vector<ProbeRun> runs;
  std::vector<SlaVerdictLine> slas;
  bool passed() const;
};

/// Runs on its own io_context; deletes the probes' keys afterwards.
OnceOutcome run_every_probe_once(const Config& config);

std::string render_sla_table(const OnceOutcome& outcome);
nlohmann::json report_json(const OnceOutcome& outcome);
std::string report_junit(const OnceOutcome& outcome);

/// The whole --once command: returns the process exit code.
int run_once_command(const Config& config, const std::string& report_path);

}  // namespace chaosd
