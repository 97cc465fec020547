#include "chaos/faults/client_kill.h"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "config/params.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;

struct ClientInfo {
  std::string id;
  std::string name;
};

// CLIENT LIST: one line per client, "id=3 addr=... name=foo ...".
std::vector<ClientInfo> parse_client_list(const std::string& text) {
  std::vector<ClientInfo> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    ClientInfo info;
    std::istringstream fields(line);
    std::string field;
    while (fields >> field) {
      if (field.rfind("id=", 0) == 0) info.id = field.substr(3);
      if (field.rfind("name=", 0) == 0) info.name = field.substr(5);
    }
    if (!info.id.empty()) out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

const std::string& ClientKillFault::type() const {
  static const std::string kType = "client_kill";
  return kType;
}

asio::awaitable<Status> ClientKillFault::inject(FaultContext& ctx) {
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  Command id_command{"CLIENT", "ID"};
  auto own = co_await conn.command(std::move(id_command));
  if (!own) co_return Error{own.error().code, "client_kill: CLIENT ID: " + own.error().message};
  const std::string own_id = std::to_string(own.value().integer());
  Command list{"CLIENT", "LIST"};
  if (!params_.type.empty()) {
    list.push_back("TYPE");
    list.push_back(params_.type);
  }
  auto listed = co_await conn.command(std::move(list));
  if (!listed) {
    co_return Error{listed.error().code, "client_kill: CLIENT LIST: " + listed.error().message};
  }
  std::vector<Command> kills;
  for (const auto& client : parse_client_list(listed.value().str())) {
    if (client.id == own_id) continue;
    if (!params_.include_chaosd && client.name.rfind("redis-chaosd", 0) == 0) continue;
    if (!params_.name_pattern.empty() &&
        fnmatch(params_.name_pattern.c_str(), client.name.c_str(), 0) != 0) {
      continue;
    }
    kills.push_back(Command{"CLIENT", "KILL", "ID", client.id});
  }
  if (kills.empty()) {
    spdlog::info("client_kill {}: no client matched", ctx.fault_id);
    co_return Ok{};
  }
  auto replies = co_await conn.pipeline(std::move(kills));
  for (const auto& reply : replies) {
    // A client that left between LIST and KILL answers 0 (or an error): not a failure.
    if (reply && reply.value().is_integer()) killed_ += reply.value().integer();
  }
  spdlog::info("client_kill {}: killed {} client(s)", ctx.fault_id, killed_);
  co_return Ok{};
}

asio::awaitable<Status> ClientKillFault::revert(FaultContext& /*ctx*/) { co_return Ok{}; }

nlohmann::json ClientKillFault::record() const {
  return {{"type", type()},
          {"params",
           {{"type", params_.type},
            {"name_pattern", params_.name_pattern},
            {"include_chaosd", params_.include_chaosd}}},
          {"state", {{"killed", killed_}}}};
}

FaultType client_kill_fault_type() {
  return FaultType{
      .type = "client_kill",
      .summary = "CLIENT KILL clients by type and/or name glob; revert is a no-op",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        ClientKillParams p;
        p.type = params.get_string("type", "", {"normal", "pubsub", "replica", "master"});
        p.name_pattern = params.get_string("name_pattern", "");
        p.include_chaosd = params.get_bool("include_chaosd", false);
        params.finish();
        if (p.type.empty() && p.name_pattern.empty()) {
          throw ConfigError(location_of(table.source(), file), key_path,
                            "client_kill needs type or name_pattern (e.g. type = \"normal\"); "
                            "killing every client is not offered");
        }
        return std::make_unique<ClientKillFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        const auto& params = record.at("params");
        ClientKillParams p;
        p.type = params.at("type").get<std::string>();
        p.name_pattern = params.at("name_pattern").get<std::string>();
        p.include_chaosd = params.at("include_chaosd").get<bool>();
        return std::unique_ptr<Fault>(
            std::make_unique<ClientKillFault>(p, record.at("state").at("killed").get<int64_t>()));
      },
  };
}

}  // namespace chaosd
