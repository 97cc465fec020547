#pragma once
// latency: is the target answering, and how fast? Each run sends `samples` rounds of PING, SET
// (with a TTL) and GET and reports the per-command median latency, the worst latency seen and the
// fraction of commands that succeeded.
//
//   [[probes]]
//   type = "latency"
//   target = "main"
//   interval = "5s"
//   params = { samples = 10, value_bytes = 64 }

#include "probes/registry.h"

namespace chaosd {

struct LatencyParams {
  int samples = 10;
  int value_bytes = 64;
};

class LatencyProbe final : public Probe {
 public:
  explicit LatencyProbe(LatencyParams params) : params_(params) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;

 private:
  LatencyParams params_;
};

ProbeType latency_probe_type();

}  // namespace chaosd
