#pragma once
// ttl: do keys expire when they should, and is their memory given back?
//
// Each run writes three groups of `keys` keys with the same TTL (half with PX, half with PXAT):
// - accuracy keys are read once `margin` before and once `margin` after the expected deadline:
//   present before and gone after is correct (expiry_accuracy_ratio);
// - timing keys are polled every `poll_interval` around the deadline: the largest distance
//   between when a key was first seen gone and its deadline is expiry_timing_error_seconds;
// - reclaim keys are never touched: the share whose `expired` keyspace event (emitted when Redis
//   actually deletes the key) arrives within `reclaim_window` is expired_reclaim_ratio. This needs
//   notify-keyspace-events with E and x (or A) on the server; without it the run says so in a note.
// A "before" read answered only after the deadline (the daemon's own loop was late by more than
// `margin`) cannot tell an early expiry from a late read: that run reports the accuracy as not
// applicable, with the reason, instead of a false breach.
// On a target with replicas (or read-only regions), the accuracy keys are also read on each
// replica at the same two moments: replica_expiry_accuracy_ratio per replica. Replicas do not
// expire keys themselves (they wait for the primary's DEL) but must answer nil after the
// deadline; a replica that lags more than ttl - margin also misses the "before" read.
//
//   [[probes]]
//   type = "ttl"
//   target = "main"
//   interval = "10s"
//   params = { keys = 10, ttl = "250ms", margin = "10ms", poll_interval = "1ms",
//              reclaim_window = "2s" }

#include "probes/registry.h"
#include "probes/replicas.h"

namespace chaosd {

struct TtlParams {
  int keys = 10;
  Duration ttl = std::chrono::milliseconds(250);
  Duration margin = std::chrono::milliseconds(10);
  Duration poll_interval = std::chrono::milliseconds(1);
  Duration reclaim_window = std::chrono::seconds(2);
};

class TtlProbe final : public Probe {
 public:
  explicit TtlProbe(TtlParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

 private:
  TtlParams params_;
  uint64_t run_number_ = 0;
  EndpointConnections replica_connections_{"replica"};
};

ProbeType ttl_probe_type();

}  // namespace chaosd
