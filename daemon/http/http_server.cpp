#include "daemon/http/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "daemon/http/request_body.h"
#include "daemon/http/status_page.h"

namespace chaosd {
namespace {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

// Chaos calls change the target: chaos must be on and the caller must hold the token. Writes the
// refusal into `res` and returns false when the call may not proceed.
bool authorize(DaemonControl& control, const httplib::Request& req, httplib::Response& res) {
  if (!control.chaos_enabled()) {
    send_error(res, 403, "chaos is disabled; set [chaos] enabled = true in the config");
    return false;
  }
  constexpr std::string_view kBearer = "Bearer ";
  const std::string header = req.get_header_value("Authorization");
  if (!header.starts_with(kBearer) ||
      !control.chaos_token_matches(std::string_view(header).substr(kBearer.size()))) {
    spdlog::warn("audit: refused {} {} from {}:{}: {}", req.method, req.path, req.remote_addr,
                 req.remote_port, header.empty() ? "no token" : "wrong token");
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401,
               header.empty() ? "this call needs an Authorization: Bearer <token> header"
                              : "wrong token (see [chaos] token_file or REDIS_CHAOSD_TOKEN)");
    return false;
  }
  return true;
}

ApiCaller caller_of(const httplib::Request& req) {
  return ApiCaller{req.remote_addr + ":" + std::to_string(req.remote_port)};
}

// The body as a JSON object; an empty body is {} when `empty_ok`. Writes a 400 otherwise.
std::optional<json> json_body(const httplib::Request& req, httplib::Response& res, bool empty_ok) {
  auto body = parse_json_object(req.body, empty_ok);
  if (!body) {
    send_error(res, 400, body.error().message);
    return std::nullopt;
  }
  return std::move(body).value();
}

void send_reply(httplib::Response& res, const ApiReply& reply) {
  send_json(res, reply.status, reply.body);
}

}  // namespace

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Every byte of the longer string is looked at; only the lengths leak, not where they differ.
  size_t length = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < length; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0 && !b.empty();
}

bool split_listen_address(const std::string& listen, std::string& host, int& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return false;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port < 0 || port > 65535) return false;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

HttpServer::HttpServer(DaemonControl& control)
    : control_(control), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& listen) {
  std::string host;
  int port = 0;
  if (!split_listen_address(listen, host, port)) {
    return Error{ErrorCode::internal, "bad listen address \"" + listen + "\" (use host:port)"};
  }
  install_routes();
  if (port == 0) {
    port_ = server_->bind_to_any_port(host.c_str());
  } else {
    port_ = server_->bind_to_port(host.c_str(), port) ? port : -1;
  }
  if (port_ <= 0) {
    return Error{ErrorCode::internal, "cannot listen on " + listen + ": " + std::strerror(errno)};
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Ok{};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::install_routes() {
  auto& s = *server_;
  s.set_payload_max_length(64 * 1024);  // larger bodies get 413
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);

  s.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_status_page(*control_.snapshot()), "text/html; charset=utf-8");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(control_.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    // Alive means the event loop still turns: it beats every second.
    int64_t age_ms = SnapshotBox::to_ms(std::chrono::system_clock::now()) - control_.heartbeat_ms();
    if (age_ms > 10'000) {
      send_json(res, 503, json{{"status", "wedged"}, {"loop_silent_ms", age_ms}});
    } else {
      send_json(res, 200, json{{"status", "ok"}});
    }
  });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    auto snap = control_.snapshot();
    if (snap->ready) {
      send_json(res, 200, json{{"status", "ready"}});
    } else {
      send_json(res, 503, json{{"status", "starting"}, {"reason", "targets not checked yet"}});
    }
  });
  s.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    auto snap = control_.snapshot();
    send_json(res, 200, status_json(*snap));
  });
  s.Get("/api/v1/probes", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, json{{"probes", control_.snapshot()->probes}});
  });
  s.Get(R"(/api/v1/probes/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto snap = control_.snapshot();
    for (const auto& probe : snap->probes) {
      if (probe["name"] == req.matches[1].str()) return send_json(res, 200, probe);
    }
    send_error(res, 404, "no probe named \"" + req.matches[1].str() + "\"");
  });
  s.Post(R"(/api/v1/probes/([^/]+)/run)",
         [this](const httplib::Request& req, httplib::Response& res) {
           auto scheduled = control_.run_probe(req.matches[1].str());
           if (!scheduled) {
             int status = scheduled.error().code == ErrorCode::timeout     ? 503
                          : scheduled.error().code == ErrorCode::not_found ? 404
                                                                           : 500;
             return send_error(res, status, scheduled.error().message);
           }
           send_json(res, 202, scheduled.value());
         });
  s.Get("/api/v1/sla", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, json{{"slas", control_.snapshot()->slas}});
  });

  // Chaos (docs/chaos.md). GETs are open like the rest of the status API; every mutating call
  // needs the bearer token and is audit-logged by the daemon when accepted.
  s.Get("/api/v1/faults", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, control_.snapshot()->chaos);
  });
  s.Post("/api/v1/faults", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(control_, req, res)) return;
    auto body = json_body(req, res, false);
    if (!body) return;
    send_reply(res, control_.inject_fault(*body, caller_of(req)));
  });
  s.Delete(R"(/api/v1/faults/([^/]+))",
           [this](const httplib::Request& req, httplib::Response& res) {
             if (!authorize(control_, req, res)) return;
             send_reply(res, control_.revert_fault(req.matches[1].str(), caller_of(req)));
           });
  s.Post("/api/v1/chaos/halt", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(control_, req, res)) return;
    auto body = json_body(req, res, false);
    if (!body) return;
    auto reason = parse_halt_request(*body);
    if (!reason) return send_error(res, 400, reason.error().message);
    send_reply(res, control_.halt_chaos(reason.value(), caller_of(req)));
  });
  s.Post("/api/v1/chaos/resume", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(control_, req, res)) return;
    send_reply(res, control_.resume_chaos(caller_of(req)));
  });
  s.Post("/api/v1/chaos/heartbeat", [this](const httplib::Request& req, httplib::Response& res) {
    if (!authorize(control_, req, res)) return;
    send_reply(res, control_.chaos_heartbeat(caller_of(req)));
  });
  s.Get("/api/v1/experiments", [this](const httplib::Request&, httplib::Response& res) {
    auto chaos = control_.snapshot()->chaos;
    send_json(res, 200, json{{"experiments", chaos.value("experiments", json::array())}});
  });
  s.Post(R"(/api/v1/experiments/([^/]+)/run)",
         [this](const httplib::Request& req, httplib::Response& res) {
           if (!authorize(control_, req, res)) return;
           send_reply(res, control_.run_experiment(req.matches[1].str(), caller_of(req)));
         });
  s.Get("/api/v1/runs", [this](const httplib::Request&, httplib::Response& res) {
    auto chaos = control_.snapshot()->chaos;
    send_json(res, 200, json{{"runs", chaos.value("runs", json::array())}});
  });

  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // Only fill in bodies for errors no handler already explained.
    if (!res.body.empty()) return;
    if (res.status == 404) {
      send_error(res, 404, "no such endpoint: " + req.method + " " + req.path);
    } else if (res.status == 400 && req.method == "POST" && !req.has_header("Content-Length")) {
      send_error(res, 400, "POST needs a Content-Length header (send an empty body: curl -d '')");
    } else if (res.status == 413) {
      send_error(res, 413, "request body over 64 KiB");
    } else {
      send_error(res, res.status, "HTTP error " + std::to_string(res.status));
    }
  });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        std::string what = "internal error";
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("HTTP handler failed: {}", what);
        send_error(res, 500, what);
      });
}

}  // namespace chaosd
