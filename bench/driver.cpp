// Probe driver throughput (DESIGN §10: >= redis-benchmark on the same server and connection
// count): our RedisConnection, pipelined the way the probes use it (one io_context thread, one
// coroutine per connection, `pipeline()` of P commands), against `redis-benchmark` with the same
// -c and -P, on one redis-server, in one run. Rounds alternate ours / redis-benchmark and the
// best of each is kept, so that the noise of a shared machine hits both alike.
//
//   bench_driver [--smoke]
//   bench_driver --ours CMD:C:P      our side of one case only, 5 runs (for perf record)
//
// Prints a Markdown table on stdout.

#include <boost/asio.hpp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "bench/bench_util.h"
#include "daemon/redis/connection.h"
#include "tests/support/daemon_process.h"
#include "tests/support/loop.h"
#include "tests/support/redis_server.h"

namespace chaosd::bench {
namespace {
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Case {
  int connections;
  int pipeline;
  std::string command;  // "PING" or "SET"
  long requests;
};

// redis-benchmark's own commands: PING as a multi-bulk (ping_mbulk), SET key:__rand_int__ with a
// 3-byte value (its -d default) when no -r is given.
Command command_of(const Case& c) {
  if (c.command == "PING") return {"PING"};
  return {"SET", "key:__rand_int__", "xxx"};
}

/// Requests per second of our driver for `c`.
double ours(uint16_t port, const Case& c) {
  asio::io_context io;
  std::vector<std::unique_ptr<RedisConnection>> connections;
  for (int i = 0; i < c.connections; ++i) {
    ConnectionOptions options;
    options.port = port;
    options.client_name = "redis-chaosd:bench";
    options.command_timeout = 10s;
    connections.push_back(std::make_unique<RedisConnection>(io.get_executor(), options));
  }
  // Connect every connection first (redis-benchmark does too).
  test::run_on_loop<bool>(io, [&]() -> asio::awaitable<bool> {
    for (auto& connection : connections) {
      Status s = co_await connection->ensure_connected();
      if (!s) throw std::runtime_error("connect: " + s.error().message);
    }
    co_return true;
  });
  const long batches_per_connection = c.requests / c.connections / c.pipeline;
  const std::vector<Command> batch(static_cast<size_t>(c.pipeline), command_of(c));
  long failures = 0;
  int finished = 0;
  auto start = Clock::now();
  auto end = start;
  for (auto& connection : connections) {
    RedisConnection* conn = connection.get();
    asio::co_spawn(
        io,
        [&, conn]() -> asio::awaitable<void> {
          for (long b = 0; b < batches_per_connection; ++b) {
            std::vector<Command> commands = batch;
            auto replies = co_await conn->pipeline(std::move(commands));
            for (const auto& r : replies) failures += r ? 0 : 1;
          }
          // Timed here, not when run() returns: the connections' deadline timers keep the loop
          // busy (a run_for() loop rounded every case up to its 50 ms slices).
          if (++finished == c.connections) {
            end = Clock::now();
            io.stop();
          }
        },
        asio::detached);
  }
  // run(), not run_for(): run_for() reads the clock around every handler, a cost the daemon's
  // loop does not have. The guard stops a driver that never finishes.
  asio::steady_timer guard(io, 120s);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.restart();
  io.run();
  double seconds = ms_between(start, end) / 1000;
  if (finished < c.connections) throw std::runtime_error("our driver did not finish in 120 s");
  if (failures) throw std::runtime_error(std::to_string(failures) + " commands failed");
  return static_cast<double>(batches_per_connection * c.connections * c.pipeline) / seconds;
}

/// Requests per second reported by redis-benchmark for `c`.
double redis_benchmark(uint16_t port, const Case& c) {
  auto done = test::run_program({"redis-benchmark", "-h", "127.0.0.1", "-p", std::to_string(port),
                                 "-c", std::to_string(c.connections), "-P",
                                 std::to_string(c.pipeline), "-n", std::to_string(c.requests), "-t",
                                 c.command == "PING" ? "ping_mbulk" : "set", "--csv"});
  if (done.exit_code != 0) throw std::runtime_error("redis-benchmark failed: " + done.output);
  // "test","rps",...  then  "PING_MBULK","123456.79",...
  auto line = done.output.find(c.command == "PING" ? "\"PING_MBULK\"" : "\"SET\"");
  if (line == std::string::npos) throw std::runtime_error("redis-benchmark: " + done.output);
  auto comma = done.output.find(",\"", line);
  return std::stod(done.output.substr(comma + 2));
}

long requests_for(int connections, int pipeline, bool smoke) {
  // Long enough (0.3 s and more) that the clock and the start-up do not weigh.
  long requests =
      pipeline == 1 ? (connections == 1 ? 20'000 : 50'000) : (connections == 1 ? 200'000 : 500'000);
  if (smoke) requests /= 20;
  return requests - requests % (static_cast<long>(connections) * pipeline);
}

/// --ours CMD:C:P: one case, our side only, so that a profile holds nothing else.
int profile_ours(uint16_t port, const char* spec) {
  char command[8] = {};
  int c = 0, p = 0;
  if (std::sscanf(spec, "%7[A-Z]:%d:%d", command, &c, &p) != 3 || c < 1 || p < 1 ||
      (std::strcmp(command, "PING") != 0 && std::strcmp(command, "SET") != 0)) {
    std::fprintf(stderr, "bench_driver: --ours wants PING:C:P or SET:C:P, got %s\n", spec);
    return 2;
  }
  Case one{c, p, command, requests_for(c, p, false)};
  for (int r = 0; r < 5; ++r)
    std::printf("%s -c %d -P %d: %.0f req/s\n", command, c, p, ours(port, one));
  return 0;
}

}  // namespace
}  // namespace chaosd::bench

int main(int argc, char** argv) {
  using namespace chaosd::bench;
  quiet_logs();
  bool smoke = has_flag(argc, argv, "--smoke");
  try {
    chaosd::test::RedisServer server;
    if (argc == 3 && std::strcmp(argv[1], "--ours") == 0)
      return profile_ours(server.port(), argv[2]);
    std::vector<Case> cases;
    for (int c : {1, 8, 50}) {
      for (int p : {1, 16}) {
        for (const char* command : {"PING", "SET"}) {
          cases.push_back({c, p, command, requests_for(c, p, smoke)});
        }
      }
    }
    const int rounds = smoke ? 1 : 5;
    std::printf("\n### Probe driver vs redis-benchmark (requests/s, best of %d rounds)\n\n",
                rounds);
    print_header({"command", "-c", "-P", "requests", "ours (req/s)", "redis-benchmark (req/s)",
                  "ours / redis-benchmark"});
    for (const auto& c : cases) {
      double best_ours = 0, best_theirs = 0;
      for (int r = 0; r < rounds; ++r) {
        best_ours = std::max(best_ours, ours(server.port(), c));
        best_theirs = std::max(best_theirs, redis_benchmark(server.port(), c));
      }
      print_row({c.command, std::to_string(c.connections), std::to_string(c.pipeline),
                 std::to_string(c.requests), cell(best_ours, 0), cell(best_theirs, 0),
                 cell(best_ours / best_theirs, 2)});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_driver: %s\n", e.what());
    return 1;
  }
  return 0;
}
