#pragma once
// replication: how far behind the primary are the replicas (or replica regions), in
// milliseconds on one clock, and do they converge?
//
// Each run writes a heartbeat marker (a sequence number) on the primary and polls every replica
// with GET until the marker is there. The lag of a replica is the time from the write (the middle
// of its round trip) to the first poll that saw it (the middle of that round trip), so the
// resolution is about `poll_interval` plus one round trip (the first re-poll comes after 100 us,
// for replicas that apply the write just after the first poll). A replica that does not see the
// marker within `max_wait` has not converged in this run.
//
// Applies to targets of kind "replicated" (replicas listed, or discovered with INFO replication)
// and "regions" (every region that is not writable).
//
// Where two or more regions are writable (active-active), each run also writes one key in every
// writable region at once, each region its own value, and polls every region until all return the
// same value: conflict_resolution_seconds is the time from the writes to that agreement. Regions
// that still disagree after `max_wait` are counted in divergent_regions_total (the regions outside
// the largest group that agrees). Plain Redis primaries never reconcile: they diverge, which is
// what this measurement is for. With one writable region both are not applicable.
//
//   [[probes]]
//   type = "replication"
//   target = "regions"
//   interval = "5s"
//   params = { poll_interval = "1ms", max_wait = "2s" }

#include "probes/registry.h"
#include "probes/replicas.h"

namespace chaosd {

struct ReplicationParams {
  Duration poll_interval = std::chrono::milliseconds(1);
  Duration max_wait = std::chrono::seconds(2);
};

class ReplicationProbe final : public Probe {
 public:
  explicit ReplicationProbe(ReplicationParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

 private:
  boost::asio::awaitable<void> measure_lag(ProbeContext& ctx, ProbeResult& result);
  boost::asio::awaitable<void> measure_conflict(ProbeContext& ctx, ProbeResult& result);

  ReplicationParams params_;
  uint64_t sequence_ = 0;
  EndpointConnections replicas_{"replica"};
  EndpointConnections regions_{"region"};  // the writable regions, for conflicting writes
};

ProbeType replication_probe_type();

}  // namespace chaosd
