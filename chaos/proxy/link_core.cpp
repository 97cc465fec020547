#include "chaos/proxy/link_core.h"

#include <spdlog/spdlog.h>

#include "chaos/proxy/proxy_connection.h"

namespace chaosd {

LinkCore::LinkCore(boost::asio::any_io_executor executor_in, std::string name_in,
                   boost::asio::ip::tcp::endpoint upstream_in, ProxyLinkOptions options_in)
    : executor(std::move(executor_in)),
      name(std::move(name_in)),
      upstream(std::move(upstream_in)),
      options(options_in),
      expiry_timer_(executor),
      seeds_(std::random_device{}()) {}

void LinkCore::add_connection(uint64_t id, const std::weak_ptr<ProxyConnection>& connection) {
  connections_.emplace(id, connection);
  ++stats.connections_accepted;
  ++stats.connections_active;
}

void LinkCore::connection_closed(uint64_t id) {
  if (connections_.erase(id) > 0) --stats.connections_active;
}

std::vector<std::shared_ptr<ProxyConnection>> LinkCore::live_connections() const {
  // A snapshot: connections deregister themselves while we call into them.
  std::vector<std::shared_ptr<ProxyConnection>> live;
  live.reserve(connections_.size());
  for (const auto& [id, weak] : connections_) {
    if (auto connection = weak.lock()) live.push_back(std::move(connection));
  }
  return live;
}

void LinkCore::close_connections() {
  for (const auto& connection : live_connections()) connection->close();
}

void LinkCore::toxics_changed(const std::vector<ActiveToxic>& released) {
  bool release_upstream = false;
  bool release_downstream = false;
  for (const auto& toxic : released) {
    if (toxic.spec.direction == ToxicDirection::upstream) release_upstream = true;
    if (toxic.spec.direction == ToxicDirection::downstream) release_downstream = true;
  }
  for (const auto& connection : live_connections()) {
    connection->on_toxics_changed(release_upstream, release_downstream);
  }
  arm_expiry();
}

void LinkCore::arm_expiry() {
  auto next = toxics.next_expiry();
  if (!next) {
    expiry_timer_.cancel();
    return;
  }
  expiry_timer_.expires_at(*next);  // cancels the previous wait, if any
  expiry_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->expire();
  });
}

void LinkCore::expire() {
  auto removed = toxics.remove_expired(std::chrono::steady_clock::now());
  for (const auto& toxic : removed) {
    spdlog::info("fault proxy {}: toxic \"{}\" expired", name, toxic.spec.name);
  }
  toxics_changed(removed);  // also re-arms for the next expiry
}

}  // namespace chaosd
