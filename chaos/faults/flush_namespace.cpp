#include "chaos/faults/flush_namespace.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/params.h"
#include "config/toml_reader.h"

namespace chaosd {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr char kMagic[] = "redis-chaosd flush_namespace snapshot v1\n";
constexpr size_t kBatch = 100;
constexpr auto kScanLimit = std::chrono::seconds(60);

struct SnapshotEntry {
  std::string key;
  int64_t expire_unix_ms = -1;  // -1: no expiry
  std::string payload;          // DUMP
};

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <class T>
bool get(const std::string& in, size_t& at, T& value) {
  if (in.size() - at < sizeof(value)) return false;
  std::memcpy(&value, in.data() + at, sizeof(value));
  at += sizeof(value);
  return true;
}

Status sync_fd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) {
    return Error{ErrorCode::internal,
                 "flush_namespace: fsync " + what + ": " + std::strerror(errno)};
  }
  return Ok{};
}

// Written to "<path>.tmp", fsynced, renamed, and the directory fsynced: either the whole snapshot
// is there or none is.
Status write_snapshot(const std::string& path, const std::vector<SnapshotEntry>& entries) {
  std::string data = kMagic;
  put<uint64_t>(data, entries.size());
  for (const auto& entry : entries) {
    put<uint32_t>(data, static_cast<uint32_t>(entry.key.size()));
    data += entry.key;
    put<int64_t>(data, entry.expire_unix_ms);
    put<uint32_t>(data, static_cast<uint32_t>(entry.payload.size()));
    data += entry.payload;
  }
  std::error_code ec;
  const fs::path dir = fs::path(path).parent_path();
  fs::create_directories(dir, ec);
  if (ec) {
    return Error{ErrorCode::internal,
                 "flush_namespace: cannot create " + dir.string() + ": " + ec.message()};
  }
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{ErrorCode::internal,
                 "flush_namespace: cannot write " + tmp + ": " + std::strerror(errno)};
  }
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string error = std::strerror(errno);
      ::close(fd);
      return Error{ErrorCode::internal, "flush_namespace: cannot write " + tmp + ": " + error};
    }
    written += static_cast<size_t>(n);
  }
  Status synced = sync_fd(fd, tmp);
  ::close(fd);
  if (!synced) return synced;
  fs::rename(tmp, path, ec);
  if (ec) return Error{ErrorCode::internal, "flush_namespace: rename " + tmp + ": " + ec.message()};
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    synced = sync_fd(dir_fd, dir.string());
    ::close(dir_fd);
  }
  return synced;
}

Result<std::vector<SnapshotEntry>> read_snapshot(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string magic = kMagic;
  auto corrupt = [&](const std::string& why) {
    return Error{ErrorCode::invalid_argument, "flush_namespace: snapshot " + path +
                                                  " is damaged (" + why +
                                                  "); its keys cannot be restored"};
  };
  if (data.compare(0, magic.size(), magic) != 0) return corrupt("bad header");
  size_t at = magic.size();
  uint64_t count = 0;
  if (!get(data, at, count)) return corrupt("truncated");
  std::vector<SnapshotEntry> entries;
  for (uint64_t i = 0; i < count; ++i) {
    SnapshotEntry entry;
    uint32_t key_size = 0, payload_size = 0;
    if (!get(data, at, key_size) || data.size() - at < key_size) return corrupt("truncated");
    entry.key = data.substr(at, key_size);
    at += key_size;
    if (!get(data, at, entry.expire_unix_ms) || !get(data, at, payload_size) ||
        data.size() - at < payload_size) {
      return corrupt("truncated");
    }
    entry.payload = data.substr(at, payload_size);
    at += payload_size;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

const std::string& FlushNamespaceFault::type() const {
  static const std::string kType = "flush_namespace";
  return kType;
}

asio::awaitable<Status> FlushNamespaceFault::prepare(FaultContext& ctx) {
  if (ctx.state_dir.empty()) {
    co_return Error{ErrorCode::invalid_argument,
                    "flush_namespace: no state directory for its snapshot (daemon.state_dir)"};
  }
  // A replica refuses UNLINK and RESTORE (READONLY): the revert could never succeed there.
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  auto role = co_await conn.call("ROLE");
  if (!role) co_return Error{role.error().code, "flush_namespace: ROLE: " + role.error().message};
  if (!role.value().is_array() || role.value().elements().empty() ||
      role.value().elements()[0].str() != "master") {
    co_return Error{ErrorCode::invalid_argument,
                    "flush_namespace: node " + ctx.node +
                        " is not a primary; aim the fault at a primary (the HTTP \"node\")"};
  }
  state_ = {};
  // Known before inject, and journaled: revert finds the file from the record alone.
  state_.snapshot_path =
      (fs::path(ctx.state_dir) / "snapshots" / (ctx.fault_id + ".snapshot")).string();
  co_return Ok{};
}

asio::awaitable<Status> FlushNamespaceFault::inject(FaultContext& ctx) {
  if (state_.snapshot_path.empty()) {
    co_return Error{ErrorCode::internal, "flush_namespace: inject before prepare"};
  }
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  // 1. The keys (SCAN MATCH), bounded by max_keys and in time.
  std::vector<std::string> keys;
  std::string cursor = "0";
  const auto scan_deadline = std::chrono::steady_clock::now() + kScanLimit;
  do {
    if (std::chrono::steady_clock::now() > scan_deadline) {
      co_return Error{ErrorCode::timeout, "flush_namespace: SCAN MATCH " + params_.pattern +
                                              " did not finish in 60s; nothing was deleted"};
    }
    Command scan{"SCAN", cursor, "MATCH", params_.pattern, "COUNT", "1000"};
    auto reply = co_await conn.command(std::move(scan));
    if (!reply)
      co_return Error{reply.error().code, "flush_namespace: SCAN: " + reply.error().message};
    const auto& parts = reply.value().elements();
    if (parts.size() != 2 || !parts[1].is_array()) {
      co_return Error{ErrorCode::protocol,
                      "flush_namespace: SCAN answered " + reply.value().debug_string()};
    }
    cursor = parts[0].str();
    for (const auto& key : parts[1].elements()) {
      if (static_cast<int64_t>(keys.size()) >= params_.max_keys) {
        state_.truncated = true;
        break;
      }
      keys.push_back(key.str());
    }
  } while (cursor != "0" && !state_.truncated);
  // SCAN may return a key twice.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  // 2. The snapshot: DUMP + PEXPIRETIME... PTTL (7.0 has PEXPIRETIME; PTTL works everywhere).
  std::vector<SnapshotEntry> entries;
  int64_t bytes = 0;
  for (size_t next = 0; next < keys.size();) {
    std::vector<Command> batch;
    std::vector<std::string> batch_keys;
    for (size_t i = 0; i < kBatch && next < keys.size(); ++i, ++next) {
      batch.push_back(Command{"DUMP", keys[next]});
      batch.push_back(Command{"PTTL", keys[next]});
      batch_keys.push_back(keys[next]);
    }
    const int64_t now = unix_ms_now();
    auto replies = co_await conn.pipeline(std::move(batch));
    for (size_t i = 0; i < batch_keys.size(); ++i) {
      const auto& dump = replies[2 * i];
      const auto& ttl = replies[2 * i + 1];
      if (!dump || !ttl) {
        const Error& error = !dump ? dump.error() : ttl.error();
        co_return Error{error.code, "flush_namespace: DUMP " + batch_keys[i] + ": " +
                                        error.message + "; nothing was deleted"};
      }
      if (dump.value().is_nil() || !ttl.value().is_integer() || ttl.value().integer() == -2) {
        continue;  // gone meanwhile
      }
      SnapshotEntry entry{
          .key = batch_keys[i],
          .expire_unix_ms = ttl.value().integer() < 0 ? -1 : now + ttl.value().integer(),
          .payload = dump.value().str()};
      bytes += static_cast<int64_t>(entry.key.size() + entry.payload.size());
      if (bytes > params_.max_bytes) {
        co_return Error{ErrorCode::invalid_argument,
                        "flush_namespace: the keys matching " + params_.pattern +
                            " take more than " + "max_bytes (" + std::to_string(params_.max_bytes) +
                            " bytes of DUMP); narrow the pattern or raise max_bytes; nothing was "
                            "deleted"};
      }
      entries.push_back(std::move(entry));
    }
  }
  Status written = write_snapshot(state_.snapshot_path, entries);
  if (!written) co_return written;
  state_.keys_snapshotted = static_cast<int64_t>(entries.size());
  state_.snapshot_bytes = bytes;

  // 3. Only now the deletes, and only of snapshotted keys.
  for (size_t next = 0; next < entries.size();) {
    std::vector<Command> batch;
    for (size_t i = 0; i < kBatch && next < entries.size(); ++i, ++next) {
      batch.push_back(Command{"UNLINK", entries[next].key});
    }
    auto replies = co_await conn.pipeline(std::move(batch));
    for (const auto& reply : replies) {
      if (!reply) {
        co_return Error{reply.error().code, "flush_namespace: UNLINK: " + reply.error().message};
      }
      state_.keys_deleted += reply.value().is_integer() ? reply.value().integer() : 0;
    }
  }
  spdlog::info("flush_namespace {}: deleted {} keys matching {} ({} bytes snapshotted in {}){}",
               ctx.fault_id, state_.keys_deleted, params_.pattern, bytes, state_.snapshot_path,
               state_.truncated ? "; more keys matched than max_keys and were left alone" : "");
  co_return Ok{};
}

asio::awaitable<Status> FlushNamespaceFault::revert(FaultContext& ctx) {
  restored_ = 0;
  kept_newer_ = 0;
  if (state_.snapshot_path.empty()) co_return Ok{};  // prepare never completed
  std::error_code ec;
  if (!fs::exists(state_.snapshot_path, ec)) {
    // inject deletes nothing before the snapshot is on disk; a revert removes it when done.
    spdlog::info("flush_namespace {}: no snapshot at {}: nothing deleted, or restored already",
                 ctx.fault_id, state_.snapshot_path);
    co_return Ok{};
  }
  auto entries = read_snapshot(state_.snapshot_path);
  if (!entries) co_return entries.error();
  RedisConnection conn(ctx.executor, fault_connection_options(ctx, type()));
  int64_t expired = 0;
  const auto& all = entries.value();
  for (size_t next = 0; next < all.size();) {
    std::vector<Command> batch;
    const int64_t now = unix_ms_now();
    for (size_t i = 0; i < kBatch && next < all.size(); ++i, ++next) {
      const SnapshotEntry& entry = all[next];
      if (entry.expire_unix_ms >= 0 && entry.expire_unix_ms <= now + 1) {
        ++expired;  // it would have expired by now anyway
        continue;
      }
      if (entry.expire_unix_ms < 0) {
        batch.push_back(Command{"RESTORE", entry.key, "0", entry.payload});
      } else {
        batch.push_back(Command{"RESTORE", entry.key, std::to_string(entry.expire_unix_ms),
                                entry.payload, "ABSTTL"});
      }
    }
    if (batch.empty()) continue;
    auto replies = co_await conn.pipeline(std::move(batch));
    for (const auto& reply : replies) {
      if (reply) {
        ++restored_;
      } else if (reply.error().message.rfind("BUSYKEY", 0) == 0) {
        ++kept_newer_;  // written again during the fault: the newer value stays
      } else {
        co_return Error{reply.error().code, "flush_namespace: RESTORE: " + reply.error().message +
                                                " (the snapshot " + state_.snapshot_path +
                                                " is kept; revert is retried)"};
      }
    }
  }
  fs::remove(state_.snapshot_path, ec);
  spdlog::info(
      "flush_namespace {}: restored {} keys, {} were written again meanwhile (kept), {} expired",
      ctx.fault_id, restored_, kept_newer_, expired);
  co_return Ok{};
}

nlohmann::json FlushNamespaceFault::record() const {
  return {{"type", type()},
          {"params",
           {{"pattern", params_.pattern},
            {"allow_all", params_.allow_all},
            {"max_keys", params_.max_keys},
            {"max_bytes", params_.max_bytes}}},
          {"state",
           {{"snapshot_path", state_.snapshot_path},
            {"keys_snapshotted", state_.keys_snapshotted},
            {"snapshot_bytes", state_.snapshot_bytes},
            {"keys_deleted", state_.keys_deleted},
            {"truncated", state_.truncated}}}};
}

FaultType flush_namespace_fault_type() {
  return FaultType{
      .type = "flush_namespace",
      .summary = "delete keys matching a pattern (snapshotted with DUMP); RESTOREd on revert",
      .create = [](const toml::table& table, const std::string& key_path,
                   const std::string& file) -> std::unique_ptr<Fault> {
        ParamReader params(table, key_path, file);
        FlushNamespaceParams p;
        p.pattern = params.get_string("pattern", "");
        p.allow_all = params.get_bool("allow_all", false);
        p.max_keys = params.get_int("max_keys", p.max_keys, 1, FlushNamespaceFault::kMaxKeys);
        p.max_bytes = params.get_bytes("max_bytes", p.max_bytes, 1024, int64_t{256} << 20);
        params.finish();
        if (p.pattern.empty()) {
          throw ConfigError(location_of(table.source(), file), key_path + ".pattern",
                            "flush_namespace needs a pattern (a SCAN MATCH glob, e.g. "
                            "\"session:*\")");
        }
        if (p.pattern == "*" && !p.allow_all) {
          throw ConfigError(location_of(table.source(), file), key_path + ".pattern",
                            "\"*\" deletes every key; set allow_all = true if that is meant");
        }
        return std::make_unique<FlushNamespaceFault>(p);
      },
      .restore = [](const nlohmann::json& record) -> Result<std::unique_ptr<Fault>> {
        const auto& params = record.at("params");
        const auto& state = record.at("state");
        FlushNamespaceParams p{.pattern = params.at("pattern").get<std::string>(),
                               .allow_all = params.at("allow_all").get<bool>(),
                               .max_keys = params.at("max_keys").get<int64_t>(),
                               .max_bytes = params.at("max_bytes").get<int64_t>()};
        FlushNamespaceState s{.snapshot_path = state.at("snapshot_path").get<std::string>(),
                              .keys_snapshotted = state.at("keys_snapshotted").get<int64_t>(),
                              .snapshot_bytes = state.at("snapshot_bytes").get<int64_t>(),
                              .keys_deleted = state.at("keys_deleted").get<int64_t>(),
                              .truncated = state.at("truncated").get<bool>()};
        return std::unique_ptr<Fault>(std::make_unique<FlushNamespaceFault>(p, s));
      },
  };
}

}  // namespace chaosd
