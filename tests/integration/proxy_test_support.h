#pragma once
// Helpers for the fault proxy tests: a tiny Asio echo server and client-side coroutines. Client
// helpers throw on socket errors (test side only), so a broken relay fails the test through
// run_on_loop instead of hanging it. Never pass a temporary std::string to them inside a
// co_await (GCC 12 coroutine bug): build a named local first.

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <string>

namespace chaosd::test {
namespace asio = boost::asio;
using asio::ip::tcp;

/// Echoes every byte back on every connection; closes a connection on EOF (or at once when
/// `close_after_first_chunk` is set). Counters are shared with the session coroutines, so the
/// server may go away while they are suspended.
class EchoServer {
 public:
  struct Counters {
    size_t connections = 0;
    size_t closed = 0;
    size_t bytes_received = 0;
    bool close_after_first_chunk = false;
  };

  explicit EchoServer(asio::io_context& io)
      : acceptor_(std::make_shared<tcp::acceptor>(
            io, tcp::endpoint(asio::ip::address_v4::loopback(), 0))) {
    asio::co_spawn(io, accept_loop(acceptor_, counters_), asio::detached);
  }
  ~EchoServer() {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  }

  uint16_t port() const { return acceptor_->local_endpoint().port(); }
  Counters& counters() { return *counters_; }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor,
                                           std::shared_ptr<Counters> counters) {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++counters->connections;
      asio::co_spawn(acceptor->get_executor(), session(std::move(socket), counters),
                     asio::detached);
    }
  }

  static asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<Counters> counters) {
    std::array<char, 16 * 1024> buffer;
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    for (;;) {
      size_t n = co_await socket.async_read_some(asio::buffer(buffer),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      counters->bytes_received += n;
      if (counters->close_after_first_chunk) break;
      co_await asio::async_write(socket, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    ++counters->closed;
    socket.close(ec);
  }

  std::shared_ptr<tcp::acceptor> acceptor_;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

inline asio::awaitable<tcp::socket> connect_to(uint16_t port) {
  tcp::socket socket(co_await asio::this_coro::executor);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  co_await socket.async_connect(endpoint, asio::use_awaitable);
  socket.set_option(tcp::no_delay(true));
  co_return socket;
}

inline asio::awaitable<void> write_all(tcp::socket& socket, const std::string& data) {
  co_await asio::async_write(socket, asio::buffer(data), asio::use_awaitable);
}

inline asio::awaitable<std::string> read_exact(tcp::socket& socket, size_t size) {
  std::string data(size, '\0');
  co_await asio::async_read(socket, asio::buffer(data), asio::use_awaitable);
  co_return data;
}

/// Reads until the connection ends and returns how it ended (eof, connection_reset, ...).
inline asio::awaitable<boost::system::error_code> read_until_closed(tcp::socket& socket) {
  std::array<char, 4096> buffer;
  boost::system::error_code ec;
  while (!ec) {
    co_await socket.async_read_some(asio::buffer(buffer),
                                    asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

/// Sends `message` through an echo and waits for it to come back; returns the elapsed time.
inline asio::awaitable<std::chrono::microseconds> echo_round_trip(tcp::socket& socket,
                                                                  const std::string& message) {
  const auto started = std::chrono::steady_clock::now();
  co_await write_all(socket, message);
  auto echoed = co_await read_exact(socket, message.size());
  if (echoed != message) throw std::runtime_error("echo returned other bytes: " + echoed);
  co_return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  started);
}

inline std::string random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

inline double milliseconds(std::chrono::microseconds d) { return d.count() / 1000.0; }

}  // namespace chaosd::test
