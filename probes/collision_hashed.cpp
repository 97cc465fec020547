#include "probes/collision_hashed.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "probes/collision_value.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// KEYS: a bucket and its overflow slots. Takes the first slot that is free or already holds the
// logical key ARGV[1]; returns its position (0: the bucket itself, > 0: a collision resolved by
// chaining) or -1 when every slot holds another logical key.
constexpr const char* kChainSet =
    "for i, key in ipairs(KEYS) do local cur = redis.call('GET', key) "
    "if not cur or string.match(cur, '^v1|[^|]*|([^|]*)|') == ARGV[1] then "
    "redis.call('SET', key, ARGV[2], 'PX', ARGV[3]) return i - 1 end end return -1";

std::string format_fixed(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

}  // namespace

std::string collision_bucket(const std::string& logical, uint64_t run, int bits) {
  const uint64_t digest = owned_value_digest(std::to_string(run) + ":" + logical);
  const uint64_t truncated = bits >= 64 ? digest : digest & ((uint64_t{1} << bits) - 1);
  char text[20];
  std::snprintf(text, sizeof text, "%0*llx", (bits + 3) / 4,
                static_cast<unsigned long long>(truncated));
  return text;
}

double expected_collisions(double keys, double buckets) {
  return keys - buckets * (1 - std::pow(1 - 1 / buckets, keys));
}

HashedKeys::HashedKeys(const CollisionParams& params, std::string key_base, uint64_t run)
    : params_(params), base_(std::move(key_base)), run_(run) {
  for (int t = 0; t < params.tenants; ++t) {
    for (int i = 0; i < params.hashed_keys; ++i) {
      logical_.push_back(collision_tenant(t) + "/item" + std::to_string(i));
      expected_.push_back(
          encode_owned_value(collision_tenant(t), logical_.back(), 1, run, params.value_bytes));
    }
  }
  position_.assign(logical_.size(), 0);
}

std::string HashedKeys::chain_key(const std::string& bucket, int slot) const {
  return base_ + "h:" + bucket + (slot == 0 ? "" : ":c" + std::to_string(slot));
}

asio::awaitable<Status> HashedKeys::write(RedisConnection& connection, int t) {
  for (int i = 0; i < params_.hashed_keys; ++i) {
    const size_t index = static_cast<size_t>(t * params_.hashed_keys + i);
    const std::string bucket = collision_bucket(logical_[index], run_, params_.hash_bits);
    Command write{"EVAL", kChainSet, std::to_string(params_.max_chain + 1)};
    for (int slot = 0; slot <= params_.max_chain; ++slot) write.push_back(chain_key(bucket, slot));
    write.push_back(logical_[index]);
    write.push_back(expected_[index]);
    write.push_back(kCollisionValueTtlMs);
    const auto sent = steady_clock::now();
    auto reply = co_await connection.command(std::move(write));
    const double seconds = seconds_between(sent, steady_clock::now());
    if (!reply) co_return reply.error();
    if (!reply.value().is_integer()) {
      co_return Error{ErrorCode::protocol, "chain write answered " + reply.value().debug_string()};
    }
    position_[index] = reply.value().integer();
    if (position_[index] != 0) collided_write_seconds_.push_back(seconds);
  }
  co_return Ok{};
}

asio::awaitable<Status> HashedKeys::verify(RedisClient& redis, ProbeResult& result) const {
  const size_t slots = static_cast<size_t>(params_.max_chain) + 1;
  std::vector<Command> reads;
  for (const auto& logical : logical_) {
    const std::string bucket = collision_bucket(logical, run_, params_.hash_bits);
    for (size_t s = 0; s < slots; ++s) {
      reads.push_back({"GET", chain_key(bucket, static_cast<int>(s))});
    }
  }
  auto chains = co_await redis.pipeline(std::move(reads));
  int64_t intact = 0, collided = 0, resolved = 0;
  std::optional<std::string> first_damage;
  for (size_t i = 0; i < logical_.size(); ++i) {
    std::optional<std::string> damage = "not found in its bucket or overflow slots";
    const std::string owner = collision_tenant(static_cast<int>(i) / params_.hashed_keys);
    for (size_t s = 0; s < slots; ++s) {
      auto& reply = chains[i * slots + s];
      if (!reply) co_return reply.error();
      if (reply.value().is_nil()) continue;
      auto parsed = parse_owned_value(reply.value().str());
      if (!parsed || parsed->logical != logical_[i]) continue;  // another key's slot
      damage = value_damage(&reply.value().str(), owner, logical_[i], expected_[i]);
      break;
    }
    if (!damage) ++intact;
    if (damage && !first_damage) first_damage = logical_[i] + ": " + *damage;
    if (position_[i] != 0) {
      ++collided;
      if (position_[i] > 0 && !damage) ++resolved;
    }
  }
  const double n = static_cast<double>(logical_.size());
  result.add("value_integrity_ratio", static_cast<double>(intact) / n, "hashed");
  result.add("collisions_total", static_cast<double>(collided), "hashed");
  if (collided > 0) {
    result.add("collision_detection_seconds",
               *std::max_element(collided_write_seconds_.begin(), collided_write_seconds_.end()),
               "hashed");
    result.add("collision_resolution_ratio", static_cast<double>(resolved) / collided, "hashed");
  } else {
    result.add_not_applicable("collision_detection_seconds", "no hash collision this run",
                              "hashed");
    result.add_not_applicable("collision_resolution_ratio", "no hash collision this run", "hashed");
  }
  const double buckets = std::ldexp(1.0, params_.hash_bits);
  result.notes.push_back(
      "hashed: " + std::to_string(collided) + " of " + std::to_string(logical_.size()) +
      " keys collided in " + std::to_string(static_cast<int64_t>(buckets)) +
      " buckets (birthday bound expects " + format_fixed(expected_collisions(n, buckets)) + ")");
  if (first_damage) {
    result.notes.push_back("hashed: " + std::to_string(static_cast<int64_t>(n) - intact) +
                           " damaged value(s) (first: " + *first_damage + ")");
  }
  co_return Ok{};
}

}  // namespace chaosd
