#include "daemon/target_proxies.h"

#include <spdlog/spdlog.h>

namespace chaosd {

Status front_targets(FaultProxy& proxy, Config& config) {
  for (TargetConfig& target : config.targets) {
    if (target.proxy_listen.empty()) continue;
    const std::string upstream = NodeAddress{target.host, target.port}.to_string();
    auto link = proxy.add_link(target.name, target.proxy_listen, upstream);
    if (!link) {
      return Error{link.error().code, "target \"" + target.name + "\": cannot front it with a " +
                                          "proxy link on " + target.proxy_listen + ": " +
                                          link.error().message};
    }
    target.upstream = upstream;
    target.host = link.value()->listen_endpoint().address().to_string();
    target.port = link.value()->listen_port();
    spdlog::info(
        "target {}: fronted by proxy link \"{}\" {}:{} -> {} (network faults: link = \"{}\")",
        target.name, target.name, target.host, target.port, upstream, target.name);
  }
  return Ok{};
}

void apply_fronting(const Config& running, Config& fresh) {
  for (TargetConfig& target : fresh.targets) {
    const TargetConfig* before = running.find_target(target.name);
    if (before == nullptr || before->upstream.empty()) {
      if (!target.proxy_listen.empty()) {
        spdlog::warn("reload: target {} gets proxy_listen after a restart only", target.name);
        target.proxy_listen.clear();
      }
      continue;
    }
    const std::string fresh_address = NodeAddress{target.host, target.port}.to_string();
    if (target.proxy_listen != before->proxy_listen || fresh_address != before->upstream) {
      spdlog::warn(
          "reload: target {}'s address or proxy_listen changed; the proxy link keeps "
          "{} -> {} until a restart",
          target.name, before->proxy_listen, before->upstream);
    }
    target.proxy_listen = before->proxy_listen;
    target.upstream = before->upstream;
    target.host = before->host;
    target.port = before->port;
  }
}

}  // namespace chaosd
