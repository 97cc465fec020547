#include "chaos/proxy/proxy_link.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "chaos/proxy/loopback_endpoint.h"
#include "chaos/proxy/proxy_connection.h"

namespace chaosd {
namespace asio = boost::asio;
using asio::ip::tcp;
using json = nlohmann::json;

namespace {

// Holds the acceptor and the core, never the ProxyLink: the link may be destroyed meanwhile
// (it closes the acceptor first, which ends this loop).
asio::awaitable<void> accept_loop(std::shared_ptr<LinkCore> core,
                                  std::shared_ptr<tcp::acceptor> acceptor) {
  asio::steady_timer pause(core->executor);
  while (acceptor->is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: pause instead of spinning on the error.
      spdlog::warn("fault proxy {}: accept failed: {}", core->name, ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    const uint64_t id = core->next_connection_id++;
    auto connection = std::make_shared<ProxyConnection>(core, id, std::move(socket));
    core->add_connection(id, connection);
    connection->start();
  }
}

json milliseconds(SteadyTime::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

ProxyLink::ProxyLink(asio::any_io_executor executor, std::string name, tcp::endpoint listen,
                     tcp::endpoint upstream, ProxyLinkOptions options)
    : core_(std::make_shared<LinkCore>(std::move(executor), std::move(name), upstream, options)),
      listen_(listen) {}

ProxyLink::~ProxyLink() { stop(); }

Error ProxyLink::error(const std::string& message) const {
  return Error{ErrorCode::internal, "link \"" + core_->name + "\": " + message};
}

Status ProxyLink::start() {
  if (started_) return Ok{};
  if (auto ok = require_loopback(listen_, "listen"); !ok) return error(ok.error().message);
  if (auto ok = require_loopback(core_->upstream, "upstream"); !ok) {
    return error(ok.error().message);
  }
  if (enabled_) {
    if (auto st = listen(); !st) return st;
  }
  started_ = true;
  return Ok{};
}

void ProxyLink::stop() {
  started_ = false;
  close_listener();
  core_->close_connections();
}

Status ProxyLink::enabled(bool on) {
  if (on == enabled_) return Ok{};
  if (!started_) {
    enabled_ = on;
    return Ok{};
  }
  if (on) {
    if (auto st = listen(); !st) return st;
  } else {
    close_listener();
    core_->close_connections();
  }
  enabled_ = on;
  return Ok{};
}

Status ProxyLink::listen() {
  auto acceptor = std::make_shared<tcp::acceptor>(core_->executor);
  boost::system::error_code ec;
  acceptor->open(listen_.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(listen_, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return error("cannot listen on " + to_string(listen_) + ": " + ec.message());
  listen_ = acceptor->local_endpoint(ec);
  acceptor_ = acceptor;
  asio::co_spawn(core_->executor, accept_loop(core_, acceptor),
                 [name = core_->name](const std::exception_ptr& e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("fault proxy {}: accept loop failed: {}", name, ex.what());
                   } catch (...) {
                     spdlog::error("fault proxy {}: accept loop failed", name);
                   }
                 });
  spdlog::info("fault proxy {}: listening on {} -> {}", core_->name, to_string(listen_),
               to_string(core_->upstream));
  return Ok{};
}

void ProxyLink::close_listener() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

Status ProxyLink::add_toxic(ToxicSpec spec) {
  auto added = core_->toxics.add(std::move(spec), std::chrono::steady_clock::now());
  if (!added) return error(added.error().message);
  spdlog::info("fault proxy {}: toxic \"{}\" added ({} {})", core_->name, added.value().spec.name,
               to_string(added.value().spec.type), to_string(added.value().spec.direction));
  core_->toxics_changed({});
  return Ok{};
}

Status ProxyLink::update_toxic(ToxicSpec spec) {
  auto replaced = core_->toxics.update(std::move(spec), std::chrono::steady_clock::now());
  if (!replaced) return error(replaced.error().message);
  std::vector<ActiveToxic> released{std::move(replaced).value()};
  core_->toxics_changed(released);
  return Ok{};
}

Status ProxyLink::remove_toxic(std::string_view name) {
  auto removed = core_->toxics.remove(name);
  if (!removed) return error("no toxic named \"" + std::string(name) + "\"");
  spdlog::info("fault proxy {}: toxic \"{}\" removed", core_->name, removed->spec.name);
  std::vector<ActiveToxic> released{std::move(*removed)};
  core_->toxics_changed(released);
  return Ok{};
}

void ProxyLink::clear_toxics() {
  auto removed = core_->toxics.clear();
  if (!removed.empty()) spdlog::info("fault proxy {}: toxics cleared", core_->name);
  core_->toxics_changed(removed);
}

json ProxyLink::to_json() const {
  const auto now = std::chrono::steady_clock::now();
  json toxics = json::array();
  for (const auto& toxic : core_->toxics.all()) {
    json entry = chaosd::to_json(toxic.spec);
    if (toxic.expires_at) {
      entry["remaining_ms"] =
          milliseconds(std::max(*toxic.expires_at - now, SteadyTime::duration::zero()));
    }
    toxics.push_back(std::move(entry));
  }
  const ProxyLinkStats& s = core_->stats;
  json stats = {{"connections_accepted", s.connections_accepted},
                {"connections_active", s.connections_active},
                {"upstream_connect_failures", s.upstream_connect_failures},
                {"connections_reset", s.connections_reset},
                {"connections_timed_out", s.connections_timed_out},
                {"bytes_upstream", s.bytes_upstream},
                {"bytes_downstream", s.bytes_downstream},
                {"bytes_dropped", s.bytes_dropped}};
  return json{{"name", core_->name},
              {"listen", to_string(listen_)},
              {"upstream", to_string(core_->upstream)},
              {"enabled", enabled_},
              {"listening", listening()},
              {"toxics", std::move(toxics)},
              {"stats", std::move(stats)}};
}

}  // namespace chaosd
