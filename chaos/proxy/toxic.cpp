#include "chaos/proxy/toxic.h"

#include <algorithm>

namespace chaosd {
namespace {

bool applies(const ActiveToxic& toxic, ToxicDirection direction) {
  return toxic.spec.direction == direction;
}

}  // namespace

bool holds_data(std::span<const ActiveToxic> toxics, ToxicDirection direction) {
  return std::any_of(toxics.begin(), toxics.end(), [&](const ActiveToxic& t) {
    return applies(t, direction) && t.spec.type == ToxicType::timeout;
  });
}

bool shapes_data(std::span<const ActiveToxic> toxics, ToxicDirection direction) {
  return std::any_of(toxics.begin(), toxics.end(), [&](const ActiveToxic& t) {
    if (!applies(t, direction)) return false;
    switch (t.spec.type) {
      case ToxicType::latency:
      case ToxicType::bandwidth:
      case ToxicType::slicer:
      case ToxicType::partition:
        return true;
      case ToxicType::timeout:
      case ToxicType::reset_peer:
        return false;
    }
    return false;
  });
}

Duration latency_delay(const ToxicParams& params, ToxicRng& rng) {
  if (params.jitter <= Duration{}) return params.latency;
  const int64_t jitter = params.jitter.count();
  std::uniform_int_distribution<int64_t> offset(-jitter, jitter);
  return std::max(Duration{}, params.latency + Duration(offset(rng)));
}

size_t slice_size(const ToxicParams& params, size_t remaining, ToxicRng& rng) {
  const auto average = static_cast<int64_t>(params.average_size_bytes);
  const auto variation = static_cast<int64_t>(params.size_variation_bytes);
  int64_t size = average;
  if (variation > 0) {
    std::uniform_int_distribution<int64_t> pick(average - variation, average + variation);
    size = pick(rng);
  }
  return std::clamp<size_t>(static_cast<size_t>(std::max<int64_t>(size, 1)), 1, remaining);
}

size_t bandwidth_piece_bytes(uint64_t rate_bytes_per_second) {
  return static_cast<size_t>(std::max<uint64_t>(1, rate_bytes_per_second / 50));
}

TokenBucket::TokenBucket(uint64_t rate_bytes_per_second, uint64_t burst_bytes, SteadyTime now)
    : rate_per_ns_(static_cast<double>(rate_bytes_per_second) / 1e9),
      burst_(static_cast<double>(burst_bytes)),
      tokens_(static_cast<double>(burst_bytes)),
      updated_(now) {}

SteadyTime TokenBucket::reserve(uint64_t bytes, SteadyTime at) {
  if (at > updated_) {
    const auto elapsed_ns = static_cast<double>((at - updated_).count());
    tokens_ = std::min(burst_, tokens_ + elapsed_ns * rate_per_ns_);
    updated_ = at;
  }
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return updated_;
  const auto wait_ns = static_cast<int64_t>(-tokens_ / rate_per_ns_);
  return updated_ + std::chrono::duration_cast<SteadyTime::duration>(Duration(wait_ns));
}

const std::vector<Slice>& ToxicPipeline::schedule(std::span<const ActiveToxic> toxics,
                                                  ToxicDirection direction, size_t size,
                                                  SteadyTime now) {
  slices_.clear();
  if (size == 0) return slices_;
  slices_.push_back(Slice{0, size, now});
  for (const auto& toxic : toxics) {
    if (!applies(toxic, direction)) continue;
    apply(toxic, now);
    if (slices_.empty()) break;
  }
  for (auto& slice : slices_) {
    slice.release = std::max(slice.release, floor_);
    floor_ = slice.release;
  }
  return slices_;
}

void ToxicPipeline::apply(const ActiveToxic& toxic, SteadyTime now) {
  const ToxicParams& params = toxic.spec.params;
  switch (toxic.spec.type) {
    case ToxicType::latency:
      for (auto& slice : slices_) {
        slice.release +=
            std::chrono::duration_cast<SteadyTime::duration>(latency_delay(params, rng_));
      }
      return;
    case ToxicType::partition:
      slices_.clear();
      return;
    case ToxicType::bandwidth: {
      TokenBucket& bucket = bucket_for(toxic, now);
      const size_t piece = bandwidth_piece_bytes(params.rate_bytes_per_second);
      scratch_.clear();
      for (const auto& slice : slices_) {
        for (size_t done = 0; done < slice.size;) {
          const size_t n = std::min(piece, slice.size - done);
          scratch_.push_back(Slice{slice.offset + done, n, bucket.reserve(n, slice.release)});
          done += n;
        }
      }
      slices_.swap(scratch_);
      return;
    }
    case ToxicType::slicer: {
      const auto delay = std::chrono::duration_cast<SteadyTime::duration>(params.slice_delay);
      scratch_.clear();
      for (const auto& slice : slices_) {
        SteadyTime release = slice.release;
        for (size_t done = 0; done < slice.size;) {
          const size_t n = slice_size(params, slice.size - done, rng_);
          if (done > 0) release += delay;
          scratch_.push_back(Slice{slice.offset + done, n, release});
          done += n;
        }
      }
      slices_.swap(scratch_);
      return;
    }
    case ToxicType::timeout:
    case ToxicType::reset_peer:
      return;
  }
}

TokenBucket& ToxicPipeline::bucket_for(const ActiveToxic& toxic, SteadyTime now) {
  for (auto& [id, bucket] : buckets_) {
    if (id == toxic.id) return bucket;
  }
  const uint64_t rate = toxic.spec.params.rate_bytes_per_second;
  buckets_.emplace_back(toxic.id, TokenBucket(rate, bandwidth_piece_bytes(rate), now));
  return buckets_.back().second;
}

void ToxicPipeline::release_held(std::span<const ActiveToxic> toxics, SteadyTime now) {
  floor_ = std::min(floor_, now);
  std::erase_if(buckets_, [&](const auto& entry) {
    return std::none_of(toxics.begin(), toxics.end(),
                        [&](const ActiveToxic& t) { return t.id == entry.first; });
  });
}

}  // namespace chaosd
