#pragma once
// The embedded lab (DESIGN.md §7): real redis-server processes on free loopback ports in a run
// directory under <state_dir>/lab/, one topology per target of the same name:
//   standalone  one node
//   replicated  a primary and one replica
//   cluster     3 primaries + 3 replicas, created with redis-cli --cluster create
//   regions     primary in region a; replicas in regions b and c that replicate through fault-proxy
//               links with a one-way latency, so cross-region lag has a known truth
//   eviction    one node with a small maxmemory and allkeys-lru, for the eviction probe alone (it
//               fills the node past its limit: other probes' keys there would be evicted)
// A run directory whose daemon is gone (SIGKILL) is swept at the next start: its redis-servers
// are killed (they normally die with the daemon already, via PR_SET_PDEATHSIG) and it is removed.
//
// Thread-safety: none. start() blocks (start-up only); the rest runs on the loop thread.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/lab/redis_process.h"
#include "daemon/util/result.h"

namespace chaosd {

class FaultProxy;

struct LabNode {
  std::string topology;  // "cluster"
  std::string role;      // "primary" or "replica"
  std::string region;    // regions topology only: "a", "b", "c"
  std::string link;      // the proxy link a region replica replicates through
  std::unique_ptr<RedisProcess> process;
};

class Lab {
 public:
  Lab(LabConfig config, std::filesystem::path state_dir);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  /// Starts every topology and waits until each is healthy (replicas linked, cluster ok).
  /// `proxy` carries the regions' replication links; `pump` is called while waiting so that the
  /// proxy (which lives on the not yet running loop) can relay.
  Status start(FaultProxy* proxy, const std::function<void()>& pump);
  /// Stops every process and removes the run directory.
  void stop();

  /// Fills the addresses of the lab's targets in `config` (those with lab = true).
  void apply_to(Config& config) const;
  /// Nodes that died since the last call (and are not being restarted), by name.
  std::vector<std::string> reap_deaths();
  /// Starts a stopped or dead node again on its port (blocking, bounded).
  Status restart(const std::string& node_name);
  /// SIGKILLs a node, like a crash (the chaos engine's node_kill); a dead node is fine. It is
  /// not reported by reap_deaths(); restart() brings it back.
  Status kill(const std::string& node_name);
  /// The node of that name, or null.
  const LabNode* find_node(const std::string& node_name) const;

  const std::vector<std::unique_ptr<LabNode>>& nodes() const { return nodes_; }
  const std::filesystem::path& run_dir() const { return run_dir_; }

 private:
  Status start_standalone();
  Status start_replicated();
  Status start_cluster();
  Status start_regions(FaultProxy& proxy);
  Status start_eviction();
  LabNode& add_node(const std::string& topology, const std::string& name, const std::string& role,
                    std::vector<std::string> config_lines, bool cluster_port = false);
  Status wait_for_replica(const LabNode& replica);
  Status wait_until(const std::string& what, const std::function<bool()>& condition,
                    std::chrono::milliseconds limit);
  void sweep_leftovers() const;
  std::vector<const LabNode*> topology_nodes(const std::string& topology) const;

  LabConfig config_;
  std::filesystem::path lab_root_;
  std::filesystem::path run_dir_;
  std::vector<std::unique_ptr<LabNode>> nodes_;
  std::function<void()> pump_;
  bool started_ = false;
};

}  // namespace chaosd
