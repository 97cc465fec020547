#include "daemon/lab/lab.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "chaos/proxy/fault_proxy.h"
#include "daemon/lab/subprocess.h"
#include "daemon/redis/info.h"

namespace chaosd {
namespace {

using namespace std::chrono_literals;
constexpr auto kCommandTimeout = 1000ms;

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string text;
  std::getline(in, text);
  return text;
}

}  // namespace

Lab::Lab(LabConfig config, std::filesystem::path state_dir)
    : config_(std::move(config)), lab_root_(std::move(state_dir) / "lab") {}

Lab::~Lab() { stop(); }

Status Lab::start(FaultProxy* proxy, const std::function<void()>& pump) {
  pump_ = pump;
  std::error_code ec;
  std::filesystem::create_directories(lab_root_, ec);
  if (ec) {
    return Error{ErrorCode::internal, "cannot create " + lab_root_.string() + ": " + ec.message() +
                                          " (set daemon.state_dir to a writable directory)"};
  }
  sweep_leftovers();
  run_dir_ = lab_root_ / ("run-" + std::to_string(::getpid()));
  std::filesystem::remove_all(run_dir_, ec);
  std::filesystem::create_directories(run_dir_, ec);
  std::ofstream(run_dir_ / "owner") << ::getpid() << "\n";
  started_ = true;
  for (const std::string& topology : config_.topologies) {
    Status status = Ok{};
    if (topology == "standalone") status = start_standalone();
    if (topology == "replicated") status = start_replicated();
    if (topology == "cluster") status = start_cluster();
    if (topology == "eviction") status = start_eviction();
    if (topology == "regions") {
      if (proxy == nullptr) return Error{ErrorCode::internal, "the regions lab needs the proxy"};
      status = start_regions(*proxy);
    }
    if (!status) {
      stop();
      return Error{status.error().code, "lab " + topology + ": " + status.error().message};
    }
    spdlog::info("lab: {} up ({} nodes)", topology, topology_nodes(topology).size());
  }
  return Ok{};
}

void Lab::stop() {
  for (auto& node : nodes_) node->process->request_stop();  // all at once, then wait for each
  for (auto& node : nodes_) node->process->stop(std::chrono::milliseconds(2000));
  nodes_.clear();
  if (started_ && !run_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
  }
  started_ = false;
}

void Lab::sweep_leftovers() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(lab_root_, ec)) {
    if (!entry.is_directory() || entry.path().filename().string().rfind("run-", 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::atol(read_text(entry.path() / "owner").c_str()));
    if (owner == ::getpid() || process_matches(owner, "redis-chaosd")) continue;  // still in use
    int killed = 0;
    for (const auto& node : std::filesystem::directory_iterator(entry.path(), ec)) {
      pid_t pid = static_cast<pid_t>(std::atol(read_text(node.path() / "pid").c_str()));
      // Only a redis-server of that run directory: a recycled pid must not be hit.
      if (process_matches(pid, "redis-server") && process_matches(pid, node.path().string())) {
        ::kill(pid, SIGKILL);
        ++killed;
      }
    }
    std::filesystem::remove_all(entry.path(), ec);
    spdlog::info("lab: removed leftovers of a previous run ({}, {} processes killed)",
                 entry.path().string(), killed);
  }
}

LabNode& Lab::add_node(const std::string& topology, const std::string& name,
                       const std::string& role, std::vector<std::string> config_lines,
                       bool cluster_port) {
  auto node = std::make_unique<LabNode>();
  node->topology = topology;
  node->role = role;
  node->process = std::make_unique<RedisProcess>(
      name, run_dir_ / name, config_.redis_server,
      cluster_port ? free_cluster_port() : free_loopback_port(), std::move(config_lines));
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

Status Lab::restart(const std::string& node_name) {
  for (auto& node : nodes_) {
    if (node->process->name() != node_name) continue;
    Status started = node->process->start();
    if (started) std::ofstream(node->process->dir() / "pid") << node->process->pid() << "\n";
    return started;
  }
  return Error{ErrorCode::internal, "no lab node named " + node_name};
}

Status Lab::kill(const std::string& node_name) {
  for (auto& node : nodes_) {
    if (node->process->name() != node_name) continue;
    node->process->kill_hard();
    return Ok{};
  }
  return Error{ErrorCode::not_found, "no lab node named " + node_name};
}

const LabNode* Lab::find_node(const std::string& node_name) const {
  for (const auto& node : nodes_) {
    if (node->process->name() == node_name) return node.get();
  }
  return nullptr;
}

std::vector<std::string> Lab::reap_deaths() {
  std::vector<std::string> dead;
  for (auto& node : nodes_) {
    bool was_running = node->process->pid() > 0;
    if (was_running && !node->process->alive()) dead.push_back(node->process->name());
  }
  return dead;
}

Status Lab::wait_until(const std::string& what, const std::function<bool()>& condition,
                       std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pump_) pump_();
    if (condition()) return Ok{};
    std::this_thread::sleep_for(20ms);
  }
  return Error{ErrorCode::timeout,
               what + " did not happen within " + std::to_string(limit.count() / 1000) + "s"};
}

Status Lab::wait_for_replica(const LabNode& replica) {
  NodeAddress address = replica.process->address();
  return wait_until(
      replica.process->name() + " linking to its primary",
      [&] {
        auto info = blocking_command(address, {"INFO", "replication"}, kCommandTimeout);
        return info && info_field(*info, "master_link_status") == "up";
      },
      30s);
}

std::vector<const LabNode*> Lab::topology_nodes(const std::string& topology) const {
  std::vector<const LabNode*> out;
  for (const auto& node : nodes_) {
    if (node->topology == topology) out.push_back(node.get());
  }
  return out;
}

}  // namespace chaosd
