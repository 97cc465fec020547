// How each lab topology is built and how it appears as a target.

#include <spdlog/spdlog.h>

#include <fstream>

#include "chaos/proxy/fault_proxy.h"
#include "daemon/lab/lab.h"
#include "daemon/lab/subprocess.h"
#include "daemon/redis/info.h"

namespace chaosd {
namespace {

using namespace std::chrono_literals;

std::string replicaof(uint16_t port) { return "replicaof 127.0.0.1 " + std::to_string(port); }

Status start_node(LabNode& node) {
  Status started = node.process->start();
  if (started) std::ofstream(node.process->dir() / "pid") << node.process->pid() << "\n";
  return started;
}

}  // namespace

Status Lab::start_standalone() {
  return start_node(add_node("standalone", "standalone-1", "primary", {}));
}

Status Lab::start_eviction() {
  // The only lab node with a memory limit, and a node of its own: the eviction probe fills it
  // past maxmemory, which would evict any other probe's keys. 16 MB keeps a run's fill small.
  return start_node(add_node("eviction", "eviction-1", "primary",
                             {"maxmemory 16mb", "maxmemory-policy allkeys-lru"}));
}

Status Lab::start_replicated() {
  LabNode& primary = add_node("replicated", "replicated-primary", "primary", {});
  if (Status s = start_node(primary); !s) return s;
  LabNode& replica =
      add_node("replicated", "replicated-replica", "replica", {replicaof(primary.process->port())});
  if (Status s = start_node(replica); !s) return s;
  return wait_for_replica(replica);
}

Status Lab::start_cluster() {
  std::vector<std::string> create = {"redis-cli", "--cluster", "create"};
  for (int i = 1; i <= 6; ++i) {
    LabNode& node = add_node(
        "cluster", "cluster-" + std::to_string(i), "primary",
        {"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000"},
        /*cluster_port=*/true);
    if (Status s = start_node(node); !s) return s;
    create.push_back(node.process->address().to_string());
  }
  create.insert(create.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  CommandOutcome created = run_command(create, 60s);
  if (created.exit_code != 0) {
    return Error{ErrorCode::internal, "redis-cli --cluster create failed (exit " +
                                          std::to_string(created.exit_code) +
                                          "): " + created.output.substr(0, 500)};
  }
  auto nodes = topology_nodes("cluster");
  // Healthy means every node sees cluster_state:ok and the three replicas have joined their
  // primaries (redis-cli assigns them after the slots, so the state can be ok before).
  Status ok = wait_until(
      "cluster_state:ok on every node with 3 linked replicas",
      [&] {
        int linked_replicas = 0;
        for (const LabNode* node : nodes) {
          auto info = blocking_command(node->process->address(), {"CLUSTER", "INFO"}, 1000ms);
          if (!info || info_field(*info, "cluster_state") != "ok") return false;
          auto replication =
              blocking_command(node->process->address(), {"INFO", "replication"}, 1000ms);
          if (replication && info_field(*replication, "master_link_status") == "up") {
            ++linked_replicas;
          }
        }
        return linked_replicas == 3;
      },
      60s);
  if (!ok) return ok;
  // redis-cli chose the replicas; record the roles it gave.
  for (auto& node : nodes_) {
    if (node->topology != "cluster") continue;
    auto info = blocking_command(node->process->address(), {"INFO", "replication"}, 1000ms);
    if (info && info_field(*info, "role") == "slave") node->role = "replica";
  }
  return Ok{};
}

Status Lab::start_regions(FaultProxy& proxy) {
  LabNode& primary = add_node("regions", "regions-a", "primary", {});
  primary.region = "a";
  if (Status s = start_node(primary); !s) return s;
  const std::pair<const char*, Duration> replicas[] = {{"b", config_.region_b_latency},
                                                       {"c", config_.region_c_latency}};
  for (const auto& [region, latency] : replicas) {
    // The replica reaches its primary only through a proxy link: the link's downstream latency
    // is the one-way replication delay, the ground truth for the replication probe.
    std::string link_name = "lab-regions-" + std::string(region);
    (void)proxy.remove_link(link_name);
    auto link = proxy.add_link(link_name, "127.0.0.1:0", primary.process->address().to_string());
    if (!link) return Error{link.error().code, "proxy link: " + link.error().message};
    if (latency > Duration::zero()) {
      ToxicSpec toxic;
      toxic.type = ToxicType::latency;
      toxic.name = "region_latency";
      toxic.direction = ToxicDirection::downstream;
      toxic.params.latency = latency;
      if (Status s = proxy.add_toxic(link_name, toxic); !s) return s;
    }
    LabNode& replica = add_node("regions", "regions-" + std::string(region), "replica",
                                {replicaof(link.value()->listen_port())});
    replica.region = region;
    replica.link = link_name;
    if (Status s = start_node(replica); !s) return s;
    if (Status s = wait_for_replica(replica); !s) return s;
  }
  return Ok{};
}

void Lab::apply_to(Config& config) const {
  for (TargetConfig& target : config.targets) {
    if (!target.lab) continue;
    auto nodes = topology_nodes(target.name);
    if (nodes.empty()) continue;
    target.replicas.clear();
    target.seeds.clear();
    target.regions.clear();
    for (const LabNode* node : nodes) {
      NodeAddress address = node->process->address();
      if (target.kind == TargetKind::cluster) target.seeds.push_back(address);
      if (target.kind == TargetKind::replicated && node->role == "replica") {
        target.replicas.push_back(address);
      }
      if (target.kind == TargetKind::regions) {
        target.regions.push_back({node->region, address, node->role == "primary"});
      }
    }
    // The primary (first node) is the target's main address for every kind.
    target.host = nodes.front()->process->address().host;
    target.port = nodes.front()->process->address().port;
  }
}

}  // namespace chaosd
