#pragma once
// The probe plugin interface. A probe asks its target one question per run and answers with
// measurements in base units (probes/probe_result.h); the SLA engine judges them.
//
// Rules every probe follows (DESIGN.md §4): keys only under ctx.key_prefix, a TTL on every key it
// writes, all its keys deleted by cleanup(); no exceptions for runtime failures (they become
// ProbeResult errors); every wait is bounded.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "config/config.h"
#include "daemon/redis/connection.h"
#include "daemon/redis/redis_client.h"
#include "daemon/util/clock.h"
#include "probes/probe_result.h"

namespace chaosd {

struct ProbeContext {
  boost::asio::any_io_executor executor;
  RedisClient& redis;               // this probe's own client: one server or a cluster
  const ConnectionOptions& target;  // to open extra connections (e.g. a subscriber)
  const TargetConfig& topology;     // the target's kind, replicas, regions, seeds
  std::string key_prefix;           // "<daemon.key_prefix>:{<probe name>}:" (one hash slot)
  const Clock& clock;
};

class Probe {
 public:
  virtual ~Probe() = default;
  /// One measurement run. Must finish by itself in bounded time; the scheduler also cancels it
  /// at the probe's timeout.
  virtual boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) = 0;
  /// Deletes every key this probe may have written (called at shutdown and on reload).
  virtual boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) = 0;
};

}  // namespace chaosd
