#include "daemon/once.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/sla_rules.h"
#include "daemon/target_connection.h"
#include "daemon/util/escape.h"
#include "daemon/util/time_format.h"
#include "probes/registry.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

std::string format_value(std::optional<double> value) {
  if (!value) return "-";
  std::ostringstream out;
  out.precision(6);
  out << *value;
  return out.str();
}

}  // namespace

bool OnceOutcome::passed() const {
  for (const auto& run : runs) {
    if (!run.ok) return false;
  }
  for (const auto& sla : slas) {
    if (sla.result == "fail") return false;
  }
  return true;
}

OnceOutcome run_every_probe_once(const Config& config) {
  OnceOutcome outcome;
  asio::io_context io;
  SystemClock clock;
  SlaEngine engine(clock);
  auto rules = build_sla_rules(config);
  engine.set_rules(rules);

  auto all = [&]() -> asio::awaitable<void> {
    for (size_t i = 0; i < config.probes.size(); ++i) {
      const auto& probe = config.probes[i];
      const ProbeType* type = find_probe_type(probe.type);
      const TargetConfig* target = config.find_target(probe.target);
      if (!probe.enabled || type == nullptr || target == nullptr) continue;
      ProbeRunner runner(io.get_executor(), probe,
                         type->create(probe, "probes[" + std::to_string(i) + "].params"), *target,
                         connection_options(*target), config.daemon.key_prefix, clock,
                         [](const ProbeRun&) {});
      ProbeRun run = co_await runner.run_once();
      Status cleaned = co_await runner.stop(config.daemon.shutdown_timeout);
      if (!cleaned) spdlog::warn("probe {}: {}", probe.name, cleaned.error().message);
      for (const auto& m : run.result.measurements) {
        if (m.applicable()) engine.record(run.probe, m.name, m.value);
      }
      outcome.runs.push_back(std::move(run));
    }
  };
  asio::co_spawn(io, all(), asio::detached);
  io.run();

  for (const auto& status : engine.snapshot()) {
    SlaVerdictLine line{status.rule, "no data", std::nullopt};
    if (status.has_value) {
      line.value = status.last_value;
      line.result = status.bad_total == 0 ? "pass" : "fail";
    }
    outcome.slas.push_back(std::move(line));
  }
  return outcome;
}

std::string render_sla_table(const OnceOutcome& outcome) {
  std::ostringstream out;
  char row[512];
  std::snprintf(row, sizeof(row), "%-40s %-12s %-14s %-10s %s\n", "SLA", "TARGET", "VALUE",
                "THRESHOLD", "RESULT");
  out << row;
  for (const auto& sla : outcome.slas) {
    std::snprintf(row, sizeof(row), "%-40s %-12s %-14s %-10s %s\n", sla.rule.name.c_str(),
                  sla.rule.target.c_str(), format_value(sla.value).c_str(),
                  sla.rule.threshold.to_string().c_str(), sla.result.c_str());
    out << row;
  }
  for (const auto& run : outcome.runs) {
    if (!run.ok) {
      out << "probe " << run.probe
          << " failed: " << (run.result.errors.empty() ? "unknown" : run.result.errors.front())
          << "\n";
    }
    for (const auto& note : run.result.notes) out << "probe " << run.probe << ": " << note << "\n";
  }
  out << (outcome.passed() ? "PASSED" : "FAILED") << "\n";
  return out.str();
}

nlohmann::json report_json(const OnceOutcome& outcome) {
  nlohmann::json slas = nlohmann::json::array();
  for (const auto& sla : outcome.slas) {
    slas.push_back({{"name", sla.rule.name},
                    {"probe", sla.rule.probe},
                    {"target", sla.rule.target},
                    {"measurement", sla.rule.measurement},
                    {"threshold", sla.rule.threshold.to_string()},
                    {"value", sla.value ? nlohmann::json(*sla.value) : nlohmann::json()},
                    {"result", sla.result}});
  }
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& run : outcome.runs) {
    probes.push_back({{"name", run.probe},
                      {"type", run.type},
                      {"target", run.target},
                      {"ok", run.ok},
                      {"duration_seconds", run.duration_seconds},
                      {"finished_at", iso8601(run.finished_at)},
                      {"errors", run.result.errors},
                      {"notes", run.result.notes}});
  }
  return {{"passed", outcome.passed()}, {"slas", slas}, {"probes", probes}};
}

std::string report_junit(const OnceOutcome& outcome) {
  int failures = 0;
  int skipped = 0;
  std::ostringstream cases;
  for (const auto& run : outcome.runs) {
    cases << "  <testcase classname=\"probe\" name=\"" << escape_markup(run.probe) << "\" time=\""
          << run.duration_seconds << "\">";
    if (!run.ok) {
      ++failures;
      cases << "<failure message=\""
            << escape_markup(run.result.errors.empty() ? "failed" : run.result.errors.front())
            << "\"/>";
    }
    cases << "</testcase>\n";
  }
  for (const auto& sla : outcome.slas) {
    cases << "  <testcase classname=\"sla." << escape_markup(sla.rule.probe) << "\" name=\""
          << escape_markup(sla.rule.name) << "\">";
    if (sla.result == "fail") {
      ++failures;
      cases << "<failure message=\"" << escape_markup(sla.rule.measurement) << " = "
            << format_value(sla.value) << ", want " << escape_markup(sla.rule.threshold.to_string())
            << "\"/>";
    } else if (sla.result == "no data") {
      ++skipped;
      cases << "<skipped message=\"no measurement\"/>";
    }
    cases << "</testcase>\n";
  }
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite "
         "name=\"redis-chaosd\" "
      << "tests=\"" << outcome.runs.size() + outcome.slas.size() << "\" failures=\"" << failures
      << "\" skipped=\"" << skipped << "\">\n"
      << cases.str() << "</testsuite>\n</testsuites>\n";
  return out.str();
}

int run_once_command(const Config& config, const std::string& report_path) {
  OnceOutcome outcome = run_every_probe_once(config);
  std::cout << render_sla_table(outcome);
  if (!report_path.empty()) {
    bool xml = report_path.size() > 4 && report_path.substr(report_path.size() - 4) == ".xml";
    std::ofstream out(report_path);
    out << (xml ? report_junit(outcome) : report_json(outcome).dump(2) + "\n");
    if (!out) {
      spdlog::error("cannot write report {}", report_path);
      return 1;
    }
  }
  return outcome.passed() ? 0 : 1;
}

}  // namespace chaosd
