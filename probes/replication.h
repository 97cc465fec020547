#pragma once
// replication: how far behind the primary are the replicas (or replica regions), in
// milliseconds on one clock, and do they converge?
//
// Each run writes a heartbeat marker (a sequence number) on the primary and polls every replica
// with GET until the marker is there. The lag of a replica is the time from the write (the middle
// of its round trip) to the first poll that saw it (the middle of that round trip), so the
// resolution is about `poll_interval` plus one round trip. A replica that does not see the marker
// within `max_wait` has not converged in this run.
//
// Applies to targets of kind "replicated" (replicas listed, or discovered with INFO replication)
// and "regions" (every region that is not writable).
//
//   [[probes]]
//   type = "replication"
//   target = "regions"
//   interval = "5s"
//   params = { poll_interval = "1ms", max_wait = "2s" }

#include <map>

#include "probes/registry.h"

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
  struct Replica {
    std::string name;  // the region, or host:port
    NodeAddress address;
  };
  boost::asio::awaitable<Result<std::vector<Replica>>> replicas_of(ProbeContext& ctx);
  RedisConnection& connection_to(ProbeContext& ctx, const Replica& replica);

  ReplicationParams params_;
  uint64_t sequence_ = 0;
  std::map<std::string, std::unique_ptr<RedisConnection>> connections_;  // by replica name
};

ProbeType replication_probe_type();

}  // namespace chaosd
