#include "probes/probe_keys.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chaosd {
namespace asio = boost::asio;

asio::awaitable<Result<int64_t>> delete_keys_with_prefix(RedisClient& redis,
                                                         const std::string& prefix) {
  int64_t deleted = 0;
  std::string cursor = "0";
  // Bounded: a SCAN over a huge keyspace still ends; 100k rounds of COUNT 500 is far beyond it.
  for (int round = 0; round < 100'000; ++round) {
    Command scan{"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "500"};
    auto page = co_await redis.command_for_key(std::move(scan), prefix);
    if (!page) co_return page.error();
    const auto& parts = page.value().elements();
    if (parts.size() != 2 || !parts[1].is_array()) {
      co_return Error{ErrorCode::protocol, "unexpected SCAN reply " + page.value().debug_string()};
    }
    if (!parts[1].elements().empty()) {
      Command unlink{"UNLINK"};
      for (const auto& key : parts[1].elements()) unlink.push_back(key.str());
      auto removed = co_await redis.command(std::move(unlink));
      if (!removed) co_return removed.error();
      deleted += removed.value().integer();
    }
    cursor = parts[0].str();
    if (cursor == "0") break;
  }
  co_return deleted;
}

asio::awaitable<Status> delete_probe_keys(ProbeContext& ctx) {
  auto deleted = co_await delete_keys_with_prefix(ctx.redis, ctx.key_prefix);
  if (!deleted) co_return deleted.error();
  co_return Ok{};
}

asio::awaitable<bool> sleep_until(SteadyTime when) {
  asio::steady_timer timer(co_await asio::this_coro::executor, when);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<bool> sleep_for(Duration d) {
  co_return co_await sleep_until(std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<SteadyTime::duration>(d));
}

asio::awaitable<void> run_all(std::vector<asio::awaitable<void>>& tasks) {
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, std::move(tasks.front()), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(tasks.size());
  for (auto& task : tasks) ops.push_back(asio::co_spawn(executor, std::move(task), asio::deferred));
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  [[maybe_unused]] auto outcome =
      co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

}  // namespace chaosd
