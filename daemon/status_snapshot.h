#pragma once
// The immutable view of the daemon that HTTP threads read. The loop builds a new snapshot after
// every probe run and health check and swaps it in under a lock; readers never see loop state.

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "daemon/util/clock.h"

namespace chaosd {

struct StatusSnapshot {
  nlohmann::json targets = nlohmann::json::array();  // one object per target
  nlohmann::json probes = nlohmann::json::array();   // one object per probe, with its last run
  nlohmann::json slas = nlohmann::json::array();     // one object per SLA, with windows, history
  nlohmann::json chaos = nlohmann::json::object();   // GET /api/v1/faults: active, recent, halt
  bool ready = false;                                // every target checked at least once
  std::string version;
  WallTime started_at{};
  WallTime built_at{};
};

/// Thread-safety: publish() from the loop, get() from any thread.
///
/// A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's atomic<shared_ptr>::load() releases
/// its internal lock bit with memory_order_relaxed, so nothing orders a reader's pointer read
/// before the loop's next store, and ThreadSanitizer reports it as a data race (docs/
/// reliability.md). The lock is held only to copy or swap one pointer.
class SnapshotBox {
 public:
  void publish(std::shared_ptr<const StatusSnapshot> snapshot) {
    std::lock_guard lock(mutex_);
    current_.swap(snapshot);  // the old snapshot is released after the unlock
  }
  std::shared_ptr<const StatusSnapshot> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  /// The loop calls beat() every second; HTTP /healthz reports a wedged loop when it stops.
  void beat(WallTime now) { heartbeat_ms_.store(to_ms(now)); }
  int64_t heartbeat_ms() const { return heartbeat_ms_.load(); }
  static int64_t to_ms(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const StatusSnapshot> current_ = std::make_shared<const StatusSnapshot>();
  std::atomic<int64_t> heartbeat_ms_{0};
};

}  // namespace chaosd
