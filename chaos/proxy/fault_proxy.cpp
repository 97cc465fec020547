#include "chaos/proxy/fault_proxy.h"

#include <nlohmann/json.hpp>

#include "chaos/proxy/loopback_endpoint.h"

namespace chaosd {
using boost::asio::ip::tcp;

namespace {

bool valid_link_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(boost::asio::any_io_executor executor, ProxyLinkOptions options)
    : executor_(std::move(executor)), options_(options) {}

FaultProxy::~FaultProxy() { stop(); }

Result<ProxyLink*> FaultProxy::add_link(const std::string& name, std::string_view listen,
                                        std::string_view upstream) {
  auto listen_endpoint = parse_loopback_endpoint(listen);
  if (!listen_endpoint) {
    return Error{ErrorCode::invalid_argument,
                 "link \"" + name + "\": listen " + listen_endpoint.error().message};
  }
  auto upstream_endpoint = parse_loopback_endpoint(upstream);
  if (!upstream_endpoint) {
    return Error{ErrorCode::invalid_argument,
                 "link \"" + name + "\": upstream " + upstream_endpoint.error().message};
  }
  return add_link(name, listen_endpoint.value(), upstream_endpoint.value());
}

Result<ProxyLink*> FaultProxy::add_link(const std::string& name, tcp::endpoint listen,
                                        tcp::endpoint upstream) {
  if (!valid_link_name(name)) {
    return Error{ErrorCode::invalid_argument,
                 "link name \"" + name + "\": use 1 to 64 letters, digits, '_', '-' or '.'"};
  }
  if (links_.contains(name)) {
    return Error{ErrorCode::conflict,
                 "link \"" + name + "\" already exists (remove it first or pick another name)"};
  }
  auto link = std::make_unique<ProxyLink>(executor_, name, listen, upstream, options_);
  if (auto started = link->start(); !started) return started.error();
  ProxyLink* out = link.get();
  links_.emplace(name, std::move(link));
  return out;
}

Status FaultProxy::remove_link(std::string_view name) {
  auto it = links_.find(name);
  if (it == links_.end())
    return Error{ErrorCode::not_found, "no link named \"" + std::string(name) + "\""};
  it->second->stop();
  links_.erase(it);
  return Ok{};
}

ProxyLink* FaultProxy::find(std::string_view name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : it->second.get();
}

const ProxyLink* FaultProxy::find(std::string_view name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : it->second.get();
}

std::vector<ProxyLink*> FaultProxy::list() {
  std::vector<ProxyLink*> out;
  out.reserve(links_.size());
  for (auto& [name, link] : links_) out.push_back(link.get());
  return out;
}

Result<ProxyLink*> FaultProxy::link_or_error(std::string_view name) {
  if (ProxyLink* link = find(name)) return link;
  return Error{ErrorCode::not_found, "no link named \"" + std::string(name) + "\""};
}

Status FaultProxy::add_toxic(std::string_view link, ToxicSpec spec) {
  auto found = link_or_error(link);
  if (!found) return found.error();
  return found.value()->add_toxic(std::move(spec));
}

Status FaultProxy::update_toxic(std::string_view link, ToxicSpec spec) {
  auto found = link_or_error(link);
  if (!found) return found.error();
  return found.value()->update_toxic(std::move(spec));
}

Status FaultProxy::remove_toxic(std::string_view link, std::string_view toxic) {
  auto found = link_or_error(link);
  if (!found) return found.error();
  return found.value()->remove_toxic(toxic);
}

Status FaultProxy::clear_toxics(std::string_view link) {
  auto found = link_or_error(link);
  if (!found) return found.error();
  found.value()->clear_toxics();
  return Ok{};
}

void FaultProxy::clear_toxics() {
  for (auto& [name, link] : links_) link->clear_toxics();
}

void FaultProxy::stop() {
  for (auto& [name, link] : links_) link->stop();
}

nlohmann::json FaultProxy::to_json() const {
  auto links = nlohmann::json::array();
  for (const auto& [name, link] : links_) links.push_back(link->to_json());
  return nlohmann::json{{"links", std::move(links)}};
}

}  // namespace chaosd
