#include "tests/support/redis_cluster.h"

#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "daemon/redis/crc16.h"

namespace chaosd::test {
namespace {

using namespace std::chrono_literals;

// One line of CLUSTER NODES: "<id> <ip:port@cport> <flags> <primary id|-> ... <slot ranges>".
struct NodeLine {
  std::string id;
  std::string flags;
  std::string primary_id;
  std::vector<std::pair<int, int>> ranges;
};

std::vector<NodeLine> parse_cluster_nodes(const std::string& text) {
  std::vector<NodeLine> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    if (f.size() < 8) continue;
    NodeLine node{f[0], f[2], f[3], {}};
    for (size_t i = 8; i < f.size(); ++i) {
      if (f[i].starts_with("[")) continue;  // "[slot->-id]": a migration in progress, not owned
      size_t dash = f[i].find('-');
      int first = std::stoi(f[i].substr(0, dash));
      int last = dash == std::string::npos ? first : std::stoi(f[i].substr(dash + 1));
      node.ranges.emplace_back(first, last);
    }
    out.push_back(std::move(node));
  }
  return out;
}

bool has_flag(const NodeLine& node, const std::string& flag) {
  std::istringstream flags(node.flags);
  for (std::string f; std::getline(flags, f, ',');) {
    if (f == flag) return true;
  }
  return false;
}

// Polls `ready` every 50 ms until it returns an empty string (meaning: done) or `limit` passes;
// otherwise throws with the last reason it gave. cli() may throw while a node restarts: retried.
void wait_for(const std::string& what, std::chrono::seconds limit,
              const std::function<std::string()>& ready) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string reason;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      reason = ready();
      if (reason.empty()) return;
    } catch (const std::exception& e) {
      reason = e.what();
    }
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("timed out after " + std::to_string(limit.count()) + "s waiting for " +
                           what + ": " + reason);
}

std::string run_and_capture(const std::string& command_line, int& exit_status) {
  FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command_line);
  std::string output;
  char buffer[4096];
  while (size_t n = ::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  int status = ::pclose(pipe);
  exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

void expect_ok(const std::string& reply, const std::string& what) {
  if (reply != "OK") throw std::runtime_error(what + " failed: " + reply);
}

}  // namespace

RedisCluster::RedisCluster() {
  // Each server has its own --dir, so a relative nodes.conf is unique and removed with it.
  std::vector<std::string> args = {"--cluster-enabled",      "yes",
                                   "--cluster-config-file",  "nodes.conf",
                                   "--cluster-node-timeout", "2000"};
  for (int i = 0; i < 6; ++i) {
    // Redis refuses ports above 55535 (the bus listens on port + 10000): RedisServer retries
    // with another port, and so do we once more if it runs out of luck.
    for (int attempt = 0;; ++attempt) {
      try {
        servers_.push_back(std::make_unique<RedisServer>(args));
        break;
      } catch (const std::exception&) {
        if (attempt == 2) throw;
      }
    }
  }
  std::string command = "redis-cli --cluster create";
  for (const auto& server : servers_) command += " " + server->address();
  command += " --cluster-replicas 1 --cluster-yes";
  int status = 0;
  std::string output = run_and_capture(command, status);
  if (status != 0) throw std::runtime_error("redis-cli --cluster create failed:\n" + output);
  for (const auto& server : servers_) ids_.push_back(server->cli({"CLUSTER", "MYID"}));
  wait_until_stable();
  // Replica roles spread by gossip after the slots do; tests pick replicas from any node's view.
  wait_for("every node to know the three replicas", 20s, [&]() -> std::string {
    for (const auto& server : servers_) {
      auto nodes = parse_cluster_nodes(server->cli({"CLUSTER", "NODES"}));
      auto replicas = std::count_if(nodes.begin(), nodes.end(), [](const NodeLine& node) {
        return has_flag(node, "slave") && node.primary_id != "-";
      });
      if (replicas != 3) return server->address() + " knows " + std::to_string(replicas);
    }
    return "";
  });
}

RedisServer& RedisCluster::by_port(uint16_t port) {
  for (auto& server : servers_) {
    if (server->port() == port) return *server;
  }
  throw std::runtime_error("no cluster node on port " + std::to_string(port));
}

RedisServer& RedisCluster::by_id(const std::string& id) {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (ids_[i] == id) return *servers_[i];
  }
  throw std::runtime_error("no cluster node with id " + id);
}

std::string RedisCluster::node_id(const RedisServer& server) const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].get() == &server) return ids_[i];
  }
  throw std::runtime_error("server is not part of this cluster");
}

const RedisServer& RedisCluster::first_running() const {
  for (const auto& server : servers_) {
    if (server->running()) return *server;
  }
  throw std::runtime_error("no cluster node is running");
}

std::vector<std::string> RedisCluster::slot_owners(const RedisServer& viewer) const {
  std::vector<std::string> owners(kClusterSlots);
  for (const auto& node : parse_cluster_nodes(viewer.cli({"CLUSTER", "NODES"}))) {
    if (!has_flag(node, "master")) continue;
    for (auto [first, last] : node.ranges) {
      for (int slot = first; slot <= last; ++slot) owners[static_cast<size_t>(slot)] = node.id;
    }
  }
  return owners;
}

RedisServer& RedisCluster::owner_of(uint16_t slot) { return owner_of(slot, first_running()); }

RedisServer& RedisCluster::owner_of(uint16_t slot, const RedisServer& viewer) {
  std::string id = slot_owners(viewer).at(slot);
  if (id.empty()) throw std::runtime_error("slot " + std::to_string(slot) + " is unassigned");
  return by_id(id);
}

std::vector<RedisServer*> RedisCluster::primaries() {
  std::vector<RedisServer*> out;
  for (const auto& node : parse_cluster_nodes(first_running().cli({"CLUSTER", "NODES"}))) {
    if (has_flag(node, "master") && !node.ranges.empty()) out.push_back(&by_id(node.id));
  }
  return out;
}

RedisServer& RedisCluster::replica_of(const RedisServer& primary) {
  std::string primary_id = node_id(primary);
  for (const auto& node : parse_cluster_nodes(primary.cli({"CLUSTER", "NODES"}))) {
    if (node.primary_id == primary_id && has_flag(node, "slave")) return by_id(node.id);
  }
  throw std::runtime_error("primary " + primary.address() + " has no replica");
}

void RedisCluster::begin_migration(uint16_t slot, RedisServer& source, RedisServer& target) {
  std::string s = std::to_string(slot);
  expect_ok(target.cli({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(source)}),
            "SETSLOT IMPORTING on " + target.address());
  expect_ok(source.cli({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(target)}),
            "SETSLOT MIGRATING on " + source.address());
}

void RedisCluster::migrate_key(RedisServer& source, RedisServer& target, const std::string& key) {
  expect_ok(source.cli({"MIGRATE", "127.0.0.1", std::to_string(target.port()), key, "0", "5000"}),
            "MIGRATE " + key);
}

void RedisCluster::finish_migration(uint16_t slot, RedisServer& source, RedisServer& target) {
  std::string s = std::to_string(slot);
  std::string target_id = node_id(target);
  // Target first: it bumps its config epoch, so its claim wins everywhere via gossip.
  expect_ok(target.cli({"CLUSTER", "SETSLOT", s, "NODE", target_id}), "SETSLOT NODE on target");
  expect_ok(source.cli({"CLUSTER", "SETSLOT", s, "NODE", target_id}), "SETSLOT NODE on source");
  for (RedisServer* primary : primaries()) {
    if (primary != &source && primary != &target) {
      expect_ok(primary->cli({"CLUSTER", "SETSLOT", s, "NODE", target_id}), "SETSLOT NODE");
    }
  }
  wait_for("every node to see slot " + s + " on " + target.address(), 20s, [&]() -> std::string {
    for (const auto& server : servers_) {
      if (server->running() && slot_owners(*server).at(slot) != target_id) {
        return server->address() + " does not agree yet";
      }
    }
    return "";
  });
}

void RedisCluster::failover(RedisServer& replica) {
  wait_for("replica " + replica.address() + " to be in sync", 20s, [&]() -> std::string {
    std::string info = replica.cli({"INFO", "replication"});
    bool synced = info.find("master_link_status:up") != std::string::npos &&
                  info.find("master_sync_in_progress:0") != std::string::npos;
    return synced ? "" : info;
  });
  std::string id = node_id(replica);
  std::string old_primary_id;
  for (const auto& node : parse_cluster_nodes(replica.cli({"CLUSTER", "NODES"}))) {
    if (node.id == id) old_primary_id = node.primary_id;
  }
  expect_ok(replica.cli({"CLUSTER", "FAILOVER"}), "CLUSTER FAILOVER on " + replica.address());
  // Both halves of the swap must have spread, or a test may read a view where the shard has
  // two primaries (the old one with no slots).
  wait_for("every node to see " + replica.address() + " as a primary", 20s, [&]() -> std::string {
    for (const auto& server : servers_) {
      if (!server->running()) continue;
      for (const auto& node : parse_cluster_nodes(server->cli({"CLUSTER", "NODES"}))) {
        if (node.id == id && (!has_flag(node, "master") || node.ranges.empty())) {
          return server->address() + " still sees it as " + node.flags;
        }
        if (node.id == old_primary_id && node.primary_id != id) {
          return server->address() + " does not see the old primary as its replica";
        }
      }
    }
    return "";
  });
  wait_until_stable();
}

void RedisCluster::unassign_slot(uint16_t slot) {
  std::string s = std::to_string(slot);
  RedisServer& owner = owner_of(slot);
  // Owner first: were it last, its gossip could hand the slot back to the nodes already cleared.
  owner.cli({"CLUSTER", "DELSLOTS", s});
  for (auto& server : servers_) {
    if (server->running() && server.get() != &owner) server->cli({"CLUSTER", "DELSLOTS", s});
  }
  wait_for("slot " + s + " to be unassigned everywhere", 10s, [&]() -> std::string {
    for (const auto& server : servers_) {
      if (!server->running()) continue;
      if (!slot_owners(*server).at(slot).empty()) {
        server->cli({"CLUSTER", "DELSLOTS", s});  // it learned the slot back from late gossip
        return server->address() + " still has an owner for it";
      }
    }
    return "";
  });
}

void RedisCluster::wait_until_stable(std::chrono::seconds limit) {
  wait_for("a stable cluster", limit, [&]() -> std::string {
    std::vector<std::string> reference;
    for (const auto& server : servers_) {
      if (!server->running()) continue;
      std::string info = server->cli({"CLUSTER", "INFO"});
      if (info.find("cluster_state:ok") == std::string::npos) {
        return server->address() + " is not ok";
      }
      auto owners = slot_owners(*server);
      for (size_t slot = 0; slot < owners.size(); ++slot) {
        if (owners[slot].empty()) return server->address() + " has unassigned slots";
      }
      if (reference.empty()) {
        reference = std::move(owners);
      } else if (owners != reference) {
        return server->address() + " disagrees on slot owners";
      }
    }
    return "";
  });
}

}  // namespace chaosd::test
