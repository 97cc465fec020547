#pragma once
// Runs a coroutine on a fresh io_context until it finishes (or a generous limit passes, so a bug
// fails the test instead of hanging it) and returns its value.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace chaosd::test {

template <class T, class Make>
T run_on_loop(boost::asio::io_context& io, Make make,
              std::chrono::seconds limit = std::chrono::seconds(30)) {
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(io, make(), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  io.restart();
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!out && !error && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(50));
    if (io.stopped()) io.restart();
  }
  if (error) std::rethrow_exception(error);
  if (!out) throw std::runtime_error("coroutine did not finish in time");
  return std::move(*out);
}

}  // namespace chaosd::test
