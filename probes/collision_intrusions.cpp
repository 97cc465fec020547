#include "probes/collision_intrusions.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>

#include "probes/collision_value.h"
#include "probes/probe_keys.h"

namespace chaosd {
namespace asio = boost::asio;
using std::chrono::steady_clock;

const char* const kCollisionCheckedSet =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then local owner = string.match(cur, '^v1|([^|]*)|') "
    "if owner ~= ARGV[1] then return owner or '?' end end "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1";

namespace {

// The owner's restore: only if the key still holds the foreign value it saw.
constexpr const char* kRestore =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

// Glob characters in a key prefix must not act as a pattern in PSUBSCRIBE.
std::string glob_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// Keyspace events for the run's namespace keys: key -> when its latest event arrived. Shared with
// the subscriber's handler, which may still run after the run ended.
struct KeyEvents {
  explicit KeyEvents(const asio::any_io_executor& executor) : wake(executor) {}
  std::unordered_map<std::string, SteadyTime> seen;
  asio::steady_timer wake;  // cancelled on every event, to wake the owner waiting for one
};

TenantKeys::TenantKeys(const CollisionParams& p, std::string key_base, uint64_t run_number)
    : params(p),
      base(std::move(key_base)),
      run(run_number),
      last(static_cast<size_t>(p.tenants),
           std::vector<std::string>(static_cast<size_t>(p.keys_per_tenant))) {}

std::string TenantKeys::logical(int t, int k) const {
  return collision_tenant(t) + ":k" + std::to_string(k);
}

Intrusions::Intrusions(TenantKeys& keys, std::vector<std::unique_ptr<RedisConnection>>& tenants)
    : keys_(keys), tenants_(tenants) {}

Intrusions::~Intrusions() {
  if (subscriber_) subscriber_->reset("intrusions done");
}

asio::awaitable<Status> Intrusions::watch(ProbeContext& ctx, ProbeResult& result) {
  const CollisionParams& p = keys_.params;
  Command config_get{"CONFIG", "GET", "notify-keyspace-events"};
  auto config = co_await ctx.redis.command_for_key(std::move(config_get), ctx.key_prefix);
  std::string flags;
  if (config && config.value().elements().size() == 2) flags = config.value().elements()[1].str();
  const bool keyspace = flags.find('K') != std::string::npos;
  const bool strings = flags.find('$') != std::string::npos || flags.find('A') != std::string::npos;
  const std::string polling = "owners poll every " + format_duration(p.poll_interval) + ": ";
  if (!config) {
    result.notes.push_back(polling + "CONFIG GET failed (" + config.error().message + ")");
    co_return Ok{};
  }
  if (!keyspace || !strings) {
    result.notes.push_back(polling +
                           "the server emits no keyspace events for strings "
                           "(notify-keyspace-events \"" +
                           flags + "\" lacks K and $ or A)");
    co_return Ok{};
  }
  // Events are emitted by the node holding the keys: the one the tenants talk to.
  ConnectionOptions options = tenants_.front()->options();
  options.client_name = ctx.target.client_name + ":events";
  subscriber_ = std::make_unique<RedisConnection>(ctx.executor, options);
  auto events = std::make_shared<KeyEvents>(ctx.executor);
  const std::string channel_prefix = "__keyspace@" + std::to_string(options.db) + "__:";
  std::vector<std::string> patterns{channel_prefix + glob_escape(keys_.base) + "t*"};
  // A named handler, not a temporary in the co_await expression (GCC 12).
  Link::MessageHandler on_event = [events, channel_prefix](const Reply& m) {
    if (!m.is_array() || m.elements().size() != 4 || m.elements()[0].str() != "pmessage") return;
    const std::string& channel = m.elements()[2].str();
    if (channel.compare(0, channel_prefix.size(), channel_prefix) != 0) return;
    events->seen[channel.substr(channel_prefix.size())] = steady_clock::now();
    events->wake.cancel();
  };
  auto subscribed = co_await subscriber_->subscribe(patterns, true, std::move(on_event));
  if (!subscribed) {
    co_return Error{subscribed.error().code,
                    "cannot subscribe to keyspace events: " + subscribed.error().message};
  }
  events_ = events;
  result.notes.push_back("owners watch their keys through keyspace notifications");
  co_return Ok{};
}

asio::awaitable<Status> Intrusions::run_all() {
  const CollisionParams& p = keys_.params;
  poll_origin_ = steady_clock::now();
  for (int i = 0; i < p.intrusions; ++i) {
    const int victim = i % p.tenants;
    const int key_index = (i / p.tenants * 7 + i) % p.keys_per_tenant;
    auto done = co_await intrude(victim, key_index);
    if (!done) co_return done.error();
  }
  co_return Ok{};
}

// Waits until the owner sees a foreign owner in its key: on its keyspace events, or by reading
// all its keys on its polling schedule. Returns the foreign value and when it was seen, or
// nullopt at `deadline`.
asio::awaitable<Result<Intrusions::Found>> Intrusions::owner_detects(int victim, int key_index,
                                                                     SteadyTime deadline) {
  const CollisionParams& p = keys_.params;
  const std::string me = collision_tenant(victim);
  const std::string key = keys_.key(victim, key_index);
  auto& owner = *tenants_[static_cast<size_t>(victim)];
  while (steady_clock::now() < deadline) {
    std::vector<Command> reads;
    if (events_) {
      boost::system::error_code ec;
      while (!events_->seen.contains(key) && steady_clock::now() < deadline) {
        events_->wake.expires_at(deadline);
        co_await events_->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) {
          co_return Error{ErrorCode::cancelled, "cancelled"};
        }
      }
      if (!events_->seen.contains(key)) break;
      events_->seen.erase(key);
      reads.push_back({"GET", key});
    } else {
      // The owner polls on its own schedule (a grid from the start of the intrusions), not
      // right after the intruder's write, which it cannot know about. It does not know which key
      // was hit either: it reads them all.
      const auto period = std::chrono::duration_cast<SteadyTime::duration>(p.poll_interval);
      const auto now = steady_clock::now();
      const auto next = poll_origin_ + ((now - poll_origin_) / period + 1) * period;
      if (!co_await sleep_until(next)) co_return Error{ErrorCode::cancelled, "cancelled"};
      for (int k = 0; k < p.keys_per_tenant; ++k) reads.push_back({"GET", keys_.key(victim, k)});
    }
    auto replies = co_await owner.pipeline(std::move(reads));
    const auto seen_at = steady_clock::now();
    for (auto& reply : replies) {
      if (!reply) co_return reply.error();
      if (reply.value().is_nil()) continue;
      auto stored = parse_owned_value(reply.value().str());
      if (!stored || stored->owner != me) co_return Found{{reply.value().str(), seen_at}};
    }
  }
  co_return Found{};
}

// One intrusion: the next tenant writes into a key of `victim`, first through the owner check
// (must be rejected), then bypassing it (the owner must notice and restore).
asio::awaitable<Status> Intrusions::intrude(int victim, int key_index) {
  const CollisionParams& p = keys_.params;
  const int intruder = (victim + 1) % p.tenants;
  auto& intruder_connection = *tenants_[static_cast<size_t>(intruder)];
  const std::string key = keys_.key(victim, key_index);
  const std::string intruder_name = collision_tenant(intruder);
  const std::string foreign = encode_owned_value(intruder_name, keys_.logical(victim, key_index), 1,
                                                 keys_.run + 7919, p.value_bytes);
  const double missed = std::chrono::duration<double>(p.max_wait).count();
  ++attempts_;

  Command checked{"EVAL",  kCollisionCheckedSet, "1", key, intruder_name,
                  foreign, kCollisionValueTtlMs};
  auto sent = steady_clock::now();
  auto answer = co_await intruder_connection.command(std::move(checked));
  if (!answer) co_return answer.error();
  if (answer.value().is_string() && answer.value().str() == collision_tenant(victim)) {
    checked_seconds_.push_back(seconds_between(sent, steady_clock::now()));
    ++checked_rejected_;
  } else {
    checked_seconds_.push_back(missed);
    notes_.push_back("the owner check let " + intruder_name + " write " + key + " (answer " +
                     answer.value().debug_string() + ")");
  }

  if (events_) events_->seen.erase(key);
  Command bypass{"SET", key, foreign, "PX", kCollisionValueTtlMs};
  sent = steady_clock::now();
  auto written = co_await intruder_connection.command(std::move(bypass));
  if (!written) co_return written.error();
  const auto deadline = sent + std::chrono::duration_cast<SteadyTime::duration>(p.max_wait);
  auto found = co_await owner_detects(victim, key_index, deadline);
  if (!found) co_return found.error();
  if (!found.value()) {
    bypass_seconds_.push_back(missed);
    notes_.push_back(collision_tenant(victim) + " did not notice " + intruder_name +
                     "'s write into " + key + " within max_wait");
    co_return Ok{};
  }
  ++bypass_detected_;
  bypass_seconds_.push_back(seconds_between(sent, found.value()->second));
  const std::string& own = keys_.last[static_cast<size_t>(victim)][static_cast<size_t>(key_index)];
  Command restore{"EVAL", kRestore, "1", key, found.value()->first, own, kCollisionValueTtlMs};
  auto restored = co_await tenants_[static_cast<size_t>(victim)]->command(std::move(restore));
  if (!restored) co_return restored.error();
  if (restored.value().is_integer() && restored.value().integer() == 1) ++bypass_restored_;
  co_return Ok{};
}

void Intrusions::report(ProbeResult& result) const {
  if (attempts_ == 0) {
    for (const char* subject : {"checked", "bypass"}) {
      result.add_not_applicable("collision_detection_seconds", "intrusions = 0", subject);
      result.add_not_applicable("collision_resolution_ratio", "intrusions = 0", subject);
    }
    return;
  }
  const double attempts = attempts_;
  result.add("collision_detection_seconds",
             *std::max_element(checked_seconds_.begin(), checked_seconds_.end()), "checked");
  result.add("collision_resolution_ratio", checked_rejected_ / attempts, "checked");
  result.add("collisions_total", checked_rejected_, "checked");
  result.add("collision_detection_seconds",
             *std::max_element(bypass_seconds_.begin(), bypass_seconds_.end()), "bypass");
  result.add("collision_resolution_ratio", bypass_restored_ / attempts, "bypass");
  result.add("collisions_total", bypass_detected_, "bypass");
  result.notes.insert(result.notes.end(), notes_.begin(), notes_.end());
}

}  // namespace chaosd
