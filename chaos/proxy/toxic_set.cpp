#include "chaos/proxy/toxic_set.h"

#include <algorithm>

namespace chaosd {
namespace {

std::optional<SteadyTime> expiry_of(const ToxicSpec& spec, SteadyTime now) {
  if (!spec.expires_in) return std::nullopt;
  return now + std::chrono::duration_cast<SteadyTime::duration>(*spec.expires_in);
}

}  // namespace

Result<ActiveToxic> ToxicSet::add(ToxicSpec spec, SteadyTime now) {
  auto valid = validate_toxic_spec(std::move(spec));
  if (!valid) return valid.error();
  if (find(valid.value().name) != nullptr) {
    return Error{ErrorCode::conflict, "toxic \"" + valid.value().name +
                                          "\" already exists on this link (remove or update it)"};
  }
  ActiveToxic toxic{next_id_++, std::move(valid).value(), std::nullopt};
  toxic.expires_at = expiry_of(toxic.spec, now);
  toxics_.push_back(toxic);
  return toxic;
}

Result<ActiveToxic> ToxicSet::update(ToxicSpec spec, SteadyTime now) {
  auto valid = validate_toxic_spec(std::move(spec));
  if (!valid) return valid.error();
  auto it = std::find_if(toxics_.begin(), toxics_.end(),
                         [&](const ActiveToxic& t) { return t.spec.name == valid.value().name; });
  if (it == toxics_.end()) {
    return Error{ErrorCode::not_found,
                 "no toxic named \"" + valid.value().name + "\" on this link (add it first)"};
  }
  ActiveToxic previous = std::move(*it);
  *it = ActiveToxic{next_id_++, std::move(valid).value(), std::nullopt};
  it->expires_at = expiry_of(it->spec, now);
  return previous;
}

std::optional<ActiveToxic> ToxicSet::remove(std::string_view name) {
  auto it = std::find_if(toxics_.begin(), toxics_.end(),
                         [&](const ActiveToxic& t) { return t.spec.name == name; });
  if (it == toxics_.end()) return std::nullopt;
  ActiveToxic removed = std::move(*it);
  toxics_.erase(it);
  return removed;
}

std::vector<ActiveToxic> ToxicSet::clear() {
  std::vector<ActiveToxic> removed;
  removed.swap(toxics_);
  return removed;
}

std::vector<ActiveToxic> ToxicSet::remove_expired(SteadyTime now) {
  std::vector<ActiveToxic> removed;
  auto expired = [&](const ActiveToxic& t) { return t.expires_at && *t.expires_at <= now; };
  for (const auto& t : toxics_) {
    if (expired(t)) removed.push_back(t);
  }
  std::erase_if(toxics_, expired);
  return removed;
}

std::optional<SteadyTime> ToxicSet::next_expiry() const {
  std::optional<SteadyTime> next;
  for (const auto& t : toxics_) {
    if (t.expires_at && (!next || *t.expires_at < *next)) next = t.expires_at;
  }
  return next;
}

const ActiveToxic* ToxicSet::find(std::string_view name) const {
  for (const auto& t : toxics_) {
    if (t.spec.name == name) return &t;
  }
  return nullptr;
}

const ActiveToxic* ToxicSet::find_id(uint64_t id) const {
  for (const auto& t : toxics_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

}  // namespace chaosd
