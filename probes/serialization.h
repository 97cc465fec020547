#pragma once
// serialization: what does encoding realistic documents as JSON or MessagePack (nlohmann-json)
// cost on top of storing and fetching the same bytes raw, and do the documents survive the round
// trip intact?
//
// Each run, for each size in `sizes`, generates deterministic user/session/cart documents whose
// JSON encoding is about that size (nested objects and arrays, UTF-8 strings, integers, floats,
// booleans, nulls) and does, in batches of up to `pipeline` operations:
// - raw: SET then GET byte strings of exactly that size (pipelined), compared byte for byte;
// - for json and msgpack: encode each document, SET the batch, GET it back, decode each value
//   and compare it with the original document. Interleaved with each codec batch, a baseline
//   batch SETs and GETs the very same encoded bytes as opaque bytes (no encode, no decode).
// codec_overhead_ratio = median over batches of (encode + decode time) / median over batches of
// the baseline's SET + GET round trips: what the codec adds to a round trip, relative to moving
// the same bytes through Redis raw. The probe's own verification (comparison) is not timed.
// Operations per size are capped by `ops` and by `max_bytes`; a batch carries at most 1 MiB (at
// least one operation). The codec work runs on the probe's own codec thread, one batch per job,
// so that the daemon's loop (which sends the Redis commands) stays responsive; the run yields to
// the loop between batches.
//
// Measurements, one per format and size (subject "json/16KiB"): codec_overhead_ratio (codecs
// only), throughput_per_second, roundtrip_p99_seconds, roundtrip_integrity_ratio, encoded_bytes.
//
//   [[probes]]
//   type = "serialization"
//   target = "main"
//   interval = "30s"
//   timeout = "10s"
//   params = { sizes = [1024, 16384, 131072], ops = 200, max_bytes = 8388608, pipeline = 16 }

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "probes/registry.h"

namespace chaosd {

struct SerializationParams {
  // 1 MiB documents are allowed but not a default: their run's peak is ~16 MB of heap per MiB.
  std::vector<int64_t> sizes = {1024, 16384, 131072};
  int ops = 200;                // operations per format and size, at most
  int64_t max_bytes = 8 << 20;  // payload bytes per format and size, at most (>= 1 op)
  int pipeline = 16;            // operations per batch, at most
};

class SerializationProbe final : public Probe {
 public:
  /// Called after a batch's SETs and before its GETs, with the batch's keys and the format
  /// ("raw", "json", "msgpack", "baseline"); tests use it to tamper with stored values.
  using BetweenSetAndGet =
      std::function<void(std::string_view format, const std::vector<std::string>& keys)>;

  explicit SerializationProbe(SerializationParams params) : params_(std::move(params)) {}
  boost::asio::awaitable<ProbeResult> run(ProbeContext& ctx) override;
  boost::asio::awaitable<Status> cleanup(ProbeContext& ctx) override;
  void set_between_set_and_get(BetweenSetAndGet hook) { between_ = std::move(hook); }

  struct Pass;  // the tallies of one format at one size (serialization.cpp)

 private:
  boost::asio::awaitable<Status> measure_size(ProbeContext& ctx, size_t size, ProbeResult& result);

  boost::asio::awaitable<bool> build_documents(ProbeContext& ctx, size_t size,
                                               std::vector<nlohmann::json>& docs);

  SerializationParams params_;
  BetweenSetAndGet between_;
  std::map<size_t, std::vector<nlohmann::json>> documents_;  // small sizes only; generated once
  // Encoding, decoding, comparing and building documents run here, not on the daemon's loop: a
  // 1 MiB document takes tens of milliseconds, which would delay every other probe's timers.
  // Only one run uses it at a time, and the run waits for each job.
  boost::asio::thread_pool codec_thread_{1};
};

ProbeType serialization_probe_type();

}  // namespace chaosd
