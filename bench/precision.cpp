// Measurement truth (DESIGN §10): inject a known truth, compare what the probes report.
//
//   bench_precision [--smoke] [--only latency|replication|ttl|pause]
//
// - latency: a fault-proxy latency toxic of D ms between the latency probe and Redis; the probe's
//   median PING latency minus its median with no toxic (same proxy) should be D. A blocking
//   hiredis client through the same proxy is the reference.
// - replication: a replica that follows its primary through a proxy link delayed by D ms (as the
//   lab's regions do); replication_lag_seconds minus its value at 0 ms should be D.
// - ttl: keys with a TTL of T; Redis hides a key within 1 ms of its deadline (millisecond clock),
//   so the probe's expiry_timing_error_seconds is the probe's own error (plus up to 1 ms).
// - pause: CLIENT PAUSE P ms during a latency probe run; nothing in the probes reports an
//   unavailability window on a standalone server (reshard's unavailability_seconds needs a
//   cluster slot move), so the window is the run's max_latency_seconds. A blocking client that
//   sends PING right after the PAUSE is the reference.
//
// Prints Markdown tables on stdout.

#include <boost/asio.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "bench/bench_util.h"
#include "daemon/probe_runner.h"
#include "probes/registry.h"
#include "tests/support/loop.h"
#include "tests/support/probe_harness.h"
#include "tests/support/redis_server.h"

namespace chaosd::bench {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::RedisServer;

/// One probe instance on its own loop, kept between runs (its connection stays up, as in the
/// daemon).
class ProbeBench {
 public:
  ProbeBench(const std::string& type, const std::string& params, const TargetConfig& topology,
             ConnectionOptions options)
      : config_(test::probe_config(type, params)) {
    config_.timeout = 30s;
    options.command_timeout = 10s;
    runner_ = std::make_unique<ProbeRunner>(
        io_.get_executor(), config_, find_probe_type(type)->create(config_, "probes[0].params"),
        topology, options, "chaosd-bench", clock_, [](const ProbeRun&) {});
  }
  ~ProbeBench() {
    test::run_on_loop<bool>(io_, [&]() -> asio::awaitable<bool> {
      Status s = co_await runner_->stop(5s);
      co_return s.ok();
    });
  }

  ProbeRun run() {
    return test::run_on_loop<ProbeRun>(
        io_, [&]() -> asio::awaitable<ProbeRun> { co_return co_await runner_->run_once(); }, 60s);
  }
  /// The value of `measurement` in one run; throws when the run did not report it.
  double run_for(const std::string& measurement, const std::string& subject = "") {
    ProbeRun r = run();
    auto v = subject.empty() ? test::measured(r.result, measurement)
                             : test::measured(r.result, measurement, subject);
    if (!v) {
      throw std::runtime_error(config_.type + ": no " + measurement + " (" + test::first_error(r) +
                               ")");
    }
    return *v;
  }

 private:
  asio::io_context io_;
  SystemClock clock_;
  ProbeConfig config_;
  std::unique_ptr<ProbeRunner> runner_;
};

TargetConfig standalone_at(uint16_t port) {
  TargetConfig t;
  t.name = "main";
  t.host = "127.0.0.1";
  t.port = port;
  return t;
}
ConnectionOptions options_at(uint16_t port) {
  ConnectionOptions o;
  o.port = port;
  o.client_name = "redis-chaosd:bench";
  return o;
}

std::string verdict(double error_ms, double truth_ms) {
  double allowed = std::max(1.0, 0.02 * truth_ms);
  return std::abs(error_ms) <= allowed ? "yes" : "**no**";
}

void bench_latency(bool smoke) {
  RedisServer server;
  ProxyThread proxy;
  uint16_t port = proxy.add_link("bench", server.address());
  std::vector<double> delays =
      smoke ? std::vector<double>{0, 5} : std::vector<double>{0, 1, 5, 20, 50, 100, 200};
  std::printf("\n### Latency probe vs fault-proxy latency D\n\n");
  print_header({"D (ms)", "samples", "reference PING median (ms)", "probe PING median (ms)",
                "probe - reference (ms)", "probe - D - base (ms)", "probe GET median (ms)",
                "probe - reference within ±1 ms or 2%", "probe - D - base within ±1 ms or 2%"});
  BlockingClient reference(port);
  double base = 0;
  for (double d : delays) {
    proxy.set_latency("bench", d);
    reference.run({"PING"});  // the first reply after a toxic change may be released early
    // About 3 s per delay: 3 runs of the probe (3 round trips per sample) and of the reference.
    int samples = std::clamp(static_cast<int>(3000 / (4 * 3 * (d + 0.2))), 5, 200);
    if (smoke) samples = 5;
    ProbeBench runs("latency", "samples = " + std::to_string(samples), standalone_at(port),
                    options_at(port));
    (void)runs.run_for("availability_ratio");  // connect
    // Reference bursts and probe runs alternate, so that both see the same machine.
    std::vector<double> ref_ms, ping_ms, get_ms;
    for (int r = 0; r < 3; ++r) {
      for (int i = 0; i < samples; ++i) {
        auto t0 = Clock::now();
        reference.run({"PING"});
        ref_ms.push_back(ms_between(t0, Clock::now()));
      }
      ProbeRun run = runs.run();
      auto ping = test::measured(run.result, "ping_latency_seconds");
      auto get = test::measured(run.result, "get_latency_seconds");
      if (!ping || !get) throw std::runtime_error("latency probe: " + test::first_error(run));
      ping_ms.push_back(*ping * 1000);
      get_ms.push_back(*get * 1000);
    }
    // The probe reports the median of its samples per run; the median of 3 runs is shown.
    double probe_ms = median(ping_ms);
    double ref = median(ref_ms);
    if (d == 0) base = probe_ms;
    double error = probe_ms - d - base;
    print_row({cell(d, 0), std::to_string(samples) + " x 3 runs", cell(ref), cell(probe_ms),
               cell(probe_ms - ref), cell(error), cell(median(get_ms)),
               verdict(probe_ms - ref, ref), d == 0 ? "(base)" : verdict(error, d)});
  }
  proxy.set_latency("bench", 0);
}

void bench_replication(bool smoke) {
  RedisServer primary;
  ProxyThread proxy;
  uint16_t link = proxy.add_link("region", primary.address());
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(link)});
  primary.wait_for_replica(replica);
  TargetConfig topology = standalone_at(primary.port());
  topology.kind = TargetKind::replicated;
  topology.replicas = {{"127.0.0.1", replica.port()}};
  const std::string subject = replica.address();
  std::vector<double> delays =
      smoke ? std::vector<double>{0, 20} : std::vector<double>{0, 1, 5, 20, 50, 100, 200};
  const int runs = smoke ? 2 : 10;
  std::printf("\n### Replication probe vs replication link delay D\n\n");
  print_header({"D (ms)", "runs", "reference lag median (ms)", "probe lag median (ms)",
                "probe lag min..max (ms)", "probe - reference (ms)", "probe - D - base (ms)",
                "probe - reference within ±1 ms or 2%", "probe - D - base within ±1 ms or 2%"});
  ProbeBench probe("replication", "", topology, options_at(primary.port()));
  (void)probe.run();  // connects to the primary and the replica
  // The reference: a blocking client writes on the primary and reads the replica back to back
  // (no poll interval) until the value is there, from the middle of the write's round trip to
  // the middle of the read that saw it.
  BlockingClient writer(primary.port());
  BlockingClient reader(replica.port());
  auto reference_lag_ms = [&](int n) {
    const std::string value = std::to_string(n);
    auto sent = Clock::now();
    writer.run({"SET", "chaosd-bench:reference", value, "PX", "60000"});
    auto written = sent + (Clock::now() - sent) / 2;
    for (int poll = 0; poll < 1'000'000; ++poll) {
      auto asked = Clock::now();
      bool seen = reader.run({"GET", "chaosd-bench:reference"}) == value;
      auto answered = Clock::now();
      if (seen) return ms_between(written, asked + (answered - asked) / 2);
      if (ms_between(written, answered) > 5000) break;
    }
    throw std::runtime_error("reference: the replica did not show the write within 5 s");
  };
  double base = 0;
  int n = 0;
  for (double d : delays) {
    proxy.set_latency("region", d);
    // Let the stream drain (data queued under the previous delay is released at once).
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(2 * d) + 50));
    // Reference and probe alternate, so that both see the same machine.
    std::vector<double> lag_ms, ref_ms;
    for (int r = 0; r < runs; ++r) {
      ref_ms.push_back(reference_lag_ms(++n));
      lag_ms.push_back(probe.run_for("replication_lag_seconds", subject) * 1000);
    }
    double m = median(lag_ms);
    double ref = median(ref_ms);
    if (d == 0) base = m;
    double error = m - d - base;
    print_row(
        {cell(d, 0), std::to_string(runs), cell(ref), cell(m),
         cell(*std::min_element(lag_ms.begin(), lag_ms.end())) + " .. " + cell(max_of(lag_ms)),
         cell(m - ref), cell(error), verdict(m - ref, ref), d == 0 ? "(base)" : verdict(error, d)});
  }
  writer.run({"DEL", "chaosd-bench:reference"});
  proxy.set_latency("region", 0);
}

void bench_ttl(bool smoke) {
  RedisServer server;
  std::vector<int> ttls = smoke ? std::vector<int>{100} : std::vector<int>{100, 250, 1000};
  const int runs = smoke ? 1 : 8;
  std::printf("\n### TTL probe: expiry timing error (expiry_timing_error_seconds)\n\n");
  // Redis hides a key at the first millisecond tick after its deadline (0 to 1 ms late), and the
  // probe reports the worst of 10 keys: a perfect probe would report about 0.9 ms. So the bar is
  // the 1 ms goal on top of Redis' own millisecond.
  print_header({"TTL (ms)", "runs x keys", "worst-key error per run: median (ms)", "max (ms)",
                "median / max within 1 ms + Redis' 1 ms"});
  for (int ttl : ttls) {
    ProbeBench probe("ttl",
                     "keys = 10, ttl = \"" + std::to_string(ttl) +
                         "ms\", margin = \"10ms\", reclaim_window = \"100ms\"",
                     standalone_at(server.port()), options_at(server.port()));
    std::vector<double> error_ms;
    for (int r = 0; r < runs; ++r) {
      error_ms.push_back(probe.run_for("expiry_timing_error_seconds") * 1000);
    }
    print_row({std::to_string(ttl), std::to_string(runs) + " x 10", cell(median(error_ms)),
               cell(max_of(error_ms)),
               std::string(median(error_ms) <= 2.0 ? "yes" : "**no**") + " / " +
                   (max_of(error_ms) <= 2.0 ? "yes" : "**no**")});
  }
}

void bench_pause(bool smoke) {
  RedisServer server;
  std::vector<int> pauses =
      smoke ? std::vector<int>{50} : std::vector<int>{10, 50, 100, 250, 500, 1000};
  const int runs = smoke ? 1 : 3;
  std::printf(
      "\n### Pause: CLIENT PAUSE P ms during a latency probe run (window = max_latency_seconds)"
      "\n\n");
  print_header({"P (ms)", "runs", "reference window (ms)", "Redis overshoot: reference - P (ms)",
                "probe max latency (ms)", "probe - reference (ms)",
                "within ±1 ms or 2% of the reference"});
  // Samples enough for about 200 ms of commands, so that the pause (20 ms in) falls inside the
  // run whatever the machine's load: calibrate once.
  ProbeBench calibrate("latency", "samples = 200", standalone_at(server.port()),
                       options_at(server.port()));
  (void)calibrate.run();
  auto t0 = Clock::now();
  (void)calibrate.run();
  double per_sample_ms = ms_between(t0, Clock::now()) / 200;
  int samples = std::clamp(static_cast<int>(200 / per_sample_ms), 50, 10'000);
  ProbeBench probe("latency", "samples = " + std::to_string(samples), standalone_at(server.port()),
                   options_at(server.port()));
  (void)probe.run();
  BlockingClient pauser(server.port());
  for (int p : pauses) {
    std::vector<double> probe_ms, ref_ms;
    for (int r = 0; r < runs; ++r) {
      double reference = 0;
      std::thread pause_thread([&] {
        std::this_thread::sleep_for(20ms);
        auto sent = Clock::now();
        pauser.run({"CLIENT", "PAUSE", std::to_string(p), "ALL"});
        auto paused = Clock::now();
        // The server paused at about the middle of that round trip.
        auto paused_at = sent + (paused - sent) / 2;
        pauser.run({"PING"});
        reference = ms_between(paused_at, Clock::now());
      });
      auto run_start = Clock::now();
      double max_s = probe.run_for("max_latency_seconds");
      double run_ms = ms_between(run_start, Clock::now());
      pause_thread.join();
      if (max_s * 1000 < p / 2.0) {
        std::fprintf(stderr, "pause %d ms: the run (%d samples, %.1f ms) missed the pause\n", p,
                     samples, run_ms);
      }
      probe_ms.push_back(max_s * 1000);
      ref_ms.push_back(reference);
    }
    double m = median(probe_ms);
    double ref = median(ref_ms);
    print_row({std::to_string(p), std::to_string(runs), cell(ref), cell(ref - p), cell(m),
               cell(m - ref), verdict(m - ref, ref)});
  }
}

}  // namespace
}  // namespace chaosd::bench

int main(int argc, char** argv) {
  using namespace chaosd::bench;
  quiet_logs();
  bool smoke = has_flag(argc, argv, "--smoke");
  std::string only;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  const std::map<std::string, void (*)(bool)> parts = {{"latency", bench_latency},
                                                       {"replication", bench_replication},
                                                       {"ttl", bench_ttl},
                                                       {"pause", bench_pause}};
  if (!only.empty() && !parts.count(only)) {
    std::fprintf(stderr, "bench_precision: --only %s: use latency, replication, ttl or pause\n",
                 only.c_str());
    return 2;
  }
  try {
    for (const char* name : {"latency", "replication", "ttl", "pause"}) {
      if (only.empty() || only == name) parts.at(name)(smoke);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_precision: %s\n", e.what());
    return 1;
  }
  return 0;
}
