#include "probes/collision_value.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace chaosd {
namespace {

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex16(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

uint64_t owned_value_digest(std::string_view text) {
  uint64_t z = fnv1a(text);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string encode_owned_value(const std::string& owner, const std::string& logical, int64_t seq,
                               uint64_t salt, int payload_bytes) {
  static constexpr char kAlphabet[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string body = "v1|" + owner + "|" + logical + "|" + std::to_string(seq) + "|";
  uint64_t state = owned_value_digest(body + std::to_string(salt));
  for (int i = 0; i < payload_bytes; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    body += kAlphabet[(state >> 33) % (sizeof kAlphabet - 1)];
  }
  return body + "|" + hex16(fnv1a(body));
}

std::optional<OwnedValue> parse_owned_value(const std::string& stored) {
  std::vector<std::string_view> fields;
  std::string_view rest = stored;
  for (size_t at; (at = rest.find('|')) != std::string_view::npos;) {
    fields.push_back(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  fields.push_back(rest);
  if (fields.size() != 6 || fields[0] != "v1") return std::nullopt;
  OwnedValue v;
  v.owner = fields[1];
  v.logical = fields[2];
  auto [end, ec] = std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), v.seq);
  if (ec != std::errc{} || end != fields[3].data() + fields[3].size()) return std::nullopt;
  std::string_view body(stored.data(), stored.size() - fields[5].size() - 1);
  v.checksum_ok = fields[5] == hex16(fnv1a(body));
  return v;
}

std::optional<std::string> value_damage(const std::string* stored, const std::string& owner,
                                        const std::string& logical, const std::string& expected) {
  if (stored == nullptr) return "the key is gone";
  auto v = parse_owned_value(*stored);
  if (!v) return "not a value of this probe";
  if (!v->checksum_ok) return "checksum mismatch";
  if (v->owner != owner) return "owned by " + v->owner + ", not " + owner;
  if (v->logical != logical) return "holds " + v->logical + ", not " + logical;
  if (*stored != expected) {
    return "an intact but older or foreign write (seq " + std::to_string(v->seq) + ")";
  }
  return std::nullopt;
}

}  // namespace chaosd
