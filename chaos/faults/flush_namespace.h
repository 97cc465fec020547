#pragma once
// flush_namespace: the keys of a namespace vanish, like a bad FLUSHDB or a deploy that deleted
// the wrong prefix. Keys matching `pattern` (SCAN MATCH on the fault's node, at most max_keys) are
// deleted with UNLINK.
//
// It is revertible: before deleting anything, inject() snapshots every key it will delete (DUMP
// and its expiry time; at most max_bytes of DUMP payloads) to a file under the journal's
// directory, <state_dir>/chaos/snapshots/<fault id>.snapshot (fsynced), named in the record.
// Only snapshotted keys are deleted. Revert RESTOREs every key of the snapshot that is still
// missing, with its original expiry (ABSTTL; a key whose expiry passed meanwhile stays gone), and
// removes the file. A key written again during the fault keeps its new value (RESTORE without
// REPLACE answers BUSYKEY: it is counted and left alone). A missing snapshot file means nothing
// was deleted yet or a revert already restored it: revert is idempotent.
//
// The node must be a primary (a replica answers READONLY to UNLINK and RESTORE). On a cluster
// node only that node's keys are seen and restored (run one fault per shard).
// `pattern = "*"` (everything) is refused unless allow_all = true.
//
//   [[experiments]]
//   fault = "flush_namespace"
//   params = { pattern = "session:*", max_keys = 10000, max_bytes = "64mb" }

#include <cstdint>
#include <string>

#include "chaos/registry.h"

namespace chaosd {

struct FlushNamespaceParams {
  std::string pattern;
  bool allow_all = false;
  int64_t max_keys = 10000;
  int64_t max_bytes = 64 << 20;
};

struct FlushNamespaceState {
  std::string snapshot_path;  // empty until prepare()
  int64_t keys_snapshotted = 0;
  int64_t snapshot_bytes = 0;
  int64_t keys_deleted = 0;
  bool truncated = false;  // more keys matched than max_keys: the rest was left alone
};

class FlushNamespaceFault final : public Fault {
 public:
  static constexpr int64_t kMaxKeys = 1'000'000;

  explicit FlushNamespaceFault(FlushNamespaceParams params, FlushNamespaceState state = {})
      : params_(std::move(params)), state_(std::move(state)) {}
  const std::string& type() const override;
  boost::asio::awaitable<Status> prepare(FaultContext& ctx) override;
  boost::asio::awaitable<Status> inject(FaultContext& ctx) override;
  boost::asio::awaitable<Status> revert(FaultContext& ctx) override;
  nlohmann::json record() const override;
  const FlushNamespaceState& state() const { return state_; }
  /// Keys the last revert restored, and those it left alone because they existed again.
  int64_t restored() const { return restored_; }
  int64_t kept_newer() const { return kept_newer_; }

 private:
  FlushNamespaceParams params_;
  FlushNamespaceState state_;
  int64_t restored_ = 0;
  int64_t kept_newer_ = 0;
};

FaultType flush_namespace_fault_type();

}  // namespace chaosd
