#include "daemon/once.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "chaos/proxy/fault_proxy.h"
#include "daemon/lab/lab.h"
#include "daemon/redis/link.h"
#include "daemon/sla_rules.h"
#include "daemon/target_connection.h"
#include "daemon/util/escape.h"
#include "daemon/util/time_format.h"
#include "probes/registry.h"

namespace chaosd {
namespace asio = boost::asio;

namespace {

// CPU time of every thread of the process (the loop, a probe's codec thread, the proxy's).
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

std::string format_value(std::optional<double> value) {
  if (!value) return "-";
  std::ostringstream out;
  out.precision(6);
  out << *value;
  return out.str();
}

}  // namespace

bool OnceOutcome::passed() const {
  if (!setup_error.empty()) return false;
  for (const auto& run : runs) {
    if (!run.ok) return false;
  }
  for (const auto& sla : slas) {
    if (sla.result == "fail") return false;
  }
  return true;
}

namespace {

struct OnceProbe {
  std::string name;
  std::unique_ptr<ProbeRunner> runner;
  Duration interval{};
};

// One probe on its own schedule until `until`: run, wait out the interval, run again.
asio::awaitable<void> run_until(OnceProbe& probe, SteadyTime until,
                                const std::function<void(ProbeRun)>& record) {
  while (true) {
    ProbeRun run = co_await probe.runner->run_once();
    record(std::move(run));
    auto next = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<SteadyTime::duration>(probe.interval);
    if (next >= until) co_return;
    asio::steady_timer wait(co_await asio::this_coro::executor, next);
    co_await wait.async_wait(asio::use_awaitable);
  }
}

// Why the runs reported `rule`'s measurement as not applicable, if they did.
std::optional<std::string> not_applicable_reason(const std::vector<ProbeRun>& runs,
                                                 const SlaRule& rule) {
  for (const auto& run : runs) {
    if (run.probe != rule.probe) continue;
    for (const auto& m : run.result.measurements) {
      if (m.name == rule.measurement && !m.applicable()) return m.na_reason;
    }
  }
  return std::nullopt;
}

}  // namespace

OnceOutcome run_every_probe_once(Config config, std::optional<Duration> duration) {
  OnceOutcome outcome;
  asio::io_context io;
  SystemClock clock;
  SlaEngine engine(clock);

  // A config with a [lab] table (or --lab) probes lab nodes: start them first, as the daemon does.
  FaultProxy proxy(io.get_executor());
  std::unique_ptr<Lab> lab;
  if (config.lab.enabled) {
    lab = std::make_unique<Lab>(config.lab, config.daemon.state_dir);
    Status started = lab->start(&proxy, [&io] {
      io.restart();
      io.poll();
    });
    if (!started) {
      outcome.setup_error = "lab: " + started.error().message;
      lab->stop();
      return outcome;
    }
    lab->apply_to(config);
    io.restart();
  }
  auto rules = build_sla_rules(config);
  engine.set_rules(rules);

  std::vector<OnceProbe> probes;
  for (size_t i = 0; i < config.probes.size(); ++i) {
    const auto& probe = config.probes[i];
    const ProbeType* type = find_probe_type(probe.type);
    const TargetConfig* target = config.find_target(probe.target);
    if (!probe.enabled || type == nullptr || target == nullptr) continue;
    probes.push_back(
        {probe.name,
         std::make_unique<ProbeRunner>(
             io.get_executor(), probe,
             type->create(probe, "probes[" + std::to_string(i) + "].params"), *target,
             connection_options(*target), config.daemon.key_prefix, clock, [](const ProbeRun&) {}),
         probe.interval});
  }
  std::function<void(ProbeRun)> record = [&](ProbeRun run) {
    for (const auto& m : run.result.measurements) {
      if (m.applicable()) engine.record(run.probe, m.name, m.value, m.subject);
    }
    outcome.runs.push_back(std::move(run));
  };

  auto all = [&]() -> asio::awaitable<void> {
    if (!duration) {
      // One after the other: no probe's load disturbs another's measurement.
      for (auto& probe : probes) {
        const double cpu_before = process_cpu_seconds();
        const uint64_t sent_before = Link::commands_sent_total();
        ProbeRun run = co_await probe.runner->run_once();
        run.cpu_seconds = process_cpu_seconds() - cpu_before;
        run.redis_commands = Link::commands_sent_total() - sent_before;
        record(std::move(run));
      }
    } else {
      // Every probe on its own schedule, side by side, as the daemon runs them.
      const SteadyTime until = std::chrono::steady_clock::now() +
                               std::chrono::duration_cast<SteadyTime::duration>(*duration);
      using Loop =
          decltype(asio::co_spawn(io, run_until(probes[0], until, record), asio::deferred));
      std::vector<Loop> loops;
      for (auto& probe : probes) {
        loops.push_back(asio::co_spawn(io, run_until(probe, until, record), asio::deferred));
      }
      auto group = asio::experimental::make_parallel_group(std::move(loops));
      co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    }
    for (auto& probe : probes) {
      Status cleaned = co_await probe.runner->stop(config.daemon.shutdown_timeout);
      if (!cleaned) spdlog::warn("probe {}: {}", probe.name, cleaned.error().message);
    }
    // The lab's proxy links listen forever, and idle connections keep timers: nothing else is
    // left to measure, so end the loop here.
    proxy.stop();
    io.stop();
  };
  if (!probes.empty()) {
    asio::co_spawn(io, all(), asio::detached);
    io.run();
  }
  proxy.stop();
  if (lab) lab->stop();

  for (const auto& status : engine.snapshot()) {
    SlaVerdictLine line{status.rule, "no data", std::nullopt, {}};
    if (status.has_value) {
      line.value = status.last_value;
      line.result = status.bad_total == 0 ? "pass" : "fail";
    } else if (auto reason = not_applicable_reason(outcome.runs, status.rule)) {
      line.result = "n/a";
      line.reason = *reason;
    }
    outcome.slas.push_back(std::move(line));
  }
  return outcome;
}

std::string render_sla_table(const OnceOutcome& outcome) {
  std::ostringstream out;
  int name_width = 3;
  for (const auto& sla : outcome.slas) {
    name_width = std::max(name_width, static_cast<int>(sla.rule.name.size()));
  }
  char row[1024];
  std::snprintf(row, sizeof(row), "%-*s  %-12s %-14s %-10s %s\n", name_width, "SLA", "TARGET",
                "VALUE", "THRESHOLD", "RESULT");
  out << row;
  for (const auto& sla : outcome.slas) {
    std::string result = sla.reason.empty() ? sla.result : sla.result + " (" + sla.reason + ")";
    std::snprintf(row, sizeof(row), "%-*s  %-12s %-14s %-10s %s\n", name_width,
                  sla.rule.name.c_str(), sla.rule.target.c_str(), format_value(sla.value).c_str(),
                  sla.rule.threshold.to_string().c_str(), result.c_str());
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
                    {"result", sla.result},
                    {"reason", sla.reason}});
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
    if (run.cpu_seconds) probes.back()["cpu_seconds"] = *run.cpu_seconds;
    if (run.redis_commands) probes.back()["redis_commands"] = *run.redis_commands;
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
    } else if (sla.result == "n/a") {
      ++skipped;
      cases << "<skipped message=\"not applicable: " << escape_markup(sla.reason) << "\"/>";
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

int run_once_command(Config config, const std::string& report_path,
                     std::optional<Duration> duration) {
  OnceOutcome outcome = run_every_probe_once(std::move(config), duration);
  if (!outcome.setup_error.empty()) {
    spdlog::error("{}", outcome.setup_error);
    return 1;
  }
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
