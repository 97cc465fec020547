#pragma once
// Helpers every probe uses for its keys and its waits.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "daemon/redis/connection.h"
#include "daemon/util/clock.h"
#include "probes/probe.h"

namespace chaosd {

/// Deletes every key matching "<prefix>*" with SCAN + UNLINK (never KEYS: it blocks the server),
/// on the node serving the prefix (probe prefixes are hash-tagged: one slot, one node).
/// Returns the number of keys deleted, or the first error.
boost::asio::awaitable<Result<int64_t>> delete_keys_with_prefix(RedisClient& redis,
                                                                const std::string& prefix);

/// Deletes every key under ctx.key_prefix: the cleanup of every probe that keeps keys only there.
boost::asio::awaitable<Status> delete_probe_keys(ProbeContext& ctx);

/// Sleeps on the loop until `when`; returns false if the wait was cancelled (probe timed out).
boost::asio::awaitable<bool> sleep_until(SteadyTime when);
boost::asio::awaitable<bool> sleep_for(Duration d);

/// Runs every task concurrently and returns when all have ended, also when cancelled: the group
/// forwards the cancellation to each task and waits for it, so tasks may use the caller's frame.
/// An exception a task throws (cancelled mid-wait) ends that task only.
boost::asio::awaitable<void> run_all(std::vector<boost::asio::awaitable<void>>& tasks);

/// Seconds between two steady time points, as a double.
inline double seconds_between(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace chaosd
