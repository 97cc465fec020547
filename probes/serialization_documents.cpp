#include "probes/serialization_documents.h"

#include <cstdio>

namespace chaosd {
using json = nlohmann::json;

namespace {

// splitmix64: deterministic, and the same on every platform (unlike std distributions).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  bool coin() { return (next() & 1) != 0; }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  template <size_t N>
  const char* pick(const char* const (&list)[N]) {
    return list[below(N)];
  }
};

// Non-ASCII and characters JSON must escape, so that both codecs do real string work.
constexpr const char* kFirstNames[] = {"Ada",   "Zoë",   "Åsa",   "Jürgen", "Mei",   "Olu",
                                       "Priya", "Søren", "Tomás", "Yuki",   "Chloé", "Nikolai"};
constexpr const char* kLastNames[] = {"Lovelace", "Ødegaard", "Nakamura", "O'Brien",  "Müller",
                                      "Okafor",   "Sharma",   "García",   "Kowalski", "Dubois"};
constexpr const char* kWords[] = {"lorem",       "café",      "naïve",  "東京",       "data",
                                  "cache",       "redis",     "stream", "quote\"d",   "back\\slash",
                                  "line\nbreak", "tab\there", "€uro",   "emoji 🙂", "ok",
                                  "fresh",       "blue",      "large",  "premium",    "bundle",
                                  "express",     "refill",    "eco",    "classic"};
constexpr const char* kColors[] = {"red", "green", "blue", "black", "white", "sand", "teal"};
constexpr const char* kSizes[] = {"XS", "S", "M", "L", "XL", "42", "one-size"};
constexpr const char* kCities[] = {"Zürich", "São Paulo", "Kraków", "Osaka", "Lagos", "Austin"};

std::string sentence(Rng& rng, size_t min_words, size_t max_words) {
  size_t words = min_words + rng.below(max_words - min_words + 1);
  std::string out;
  for (size_t i = 0; i < words; ++i) {
    if (i > 0) out += ' ';
    out += rng.pick(kWords);
  }
  return out;
}

std::string hex_id(Rng& rng, size_t chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  while (out.size() < chars) out += kHex[rng.below(16)];
  return out;
}

json cart_item(Rng& rng, size_t index) {
  char sku[32];
  std::snprintf(sku, sizeof sku, "SKU-%06zu", index * 7919 % 1000000);
  json history = json::array();
  for (size_t i = 0, n = rng.below(6); i < n; ++i) history.push_back(rng.below(100000));
  return {
      {"sku", sku},
      {"title", sentence(rng, 3, 8)},
      {"qty", 1 + rng.below(5)},
      {"price", static_cast<double>(99 + rng.below(99900)) / 100.0},
      {"discount", rng.coin() ? json(nullptr) : json(rng.unit() * 0.5)},
      {"attrs", {{"color", rng.pick(kColors)}, {"size", rng.pick(kSizes)}, {"gift", rng.coin()}}},
      {"price_history", std::move(history)},
  };
}

}  // namespace

std::string make_raw_payload(size_t size, uint64_t seed) {
  Rng rng{seed};
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng.next() & 0xff);  // every byte value, NULs too
  return out;
}

json make_serialization_document(size_t target_bytes, uint64_t seed) {
  Rng rng{seed};
  std::string first = rng.pick(kFirstNames);
  std::string last = rng.pick(kLastNames);
  json doc = {
      {"schema", 3},
      {"user",
       {{"id", rng.next() >> 12},
        {"name", first + " " + last},
        {"email", first + "." + last + "@example.com"},
        {"verified", rng.coin()},
        {"score", rng.unit()},
        {"balance_cents", static_cast<int64_t>(rng.below(2000000)) - 1000000},
        {"tags", {rng.pick(kWords), rng.pick(kWords)}},
        {"address",
         {{"city", rng.pick(kCities)},
          {"zip", std::to_string(10000 + rng.below(90000))},
          {"geo", {rng.unit() * 180 - 90, rng.unit() * 360 - 180}}}},
        {"manager", nullptr}}},
      {"session",
       {{"id", hex_id(rng, 32)},
        {"started_at", 1700000000 + static_cast<int64_t>(rng.below(30000000))},
        {"expires_in", 3600},
        {"ip", "10." + std::to_string(rng.below(256)) + "." + std::to_string(rng.below(256)) + "." +
                   std::to_string(rng.below(256))},
        {"flags", {{"mfa", rng.coin()}, {"beta", rng.coin()}}}}},
      {"cart", json::array()},
  };
  // The cart grows until the encoding reaches the target; each item's size is counted once.
  size_t size = doc.dump().size();
  json& cart = doc["cart"];
  while (size < target_bytes) {
    json item = cart_item(rng, cart.size());
    size += item.dump().size() + (cart.empty() ? 0 : 1);  // the comma between items
    cart.push_back(std::move(item));
  }
  return doc;
}

}  // namespace chaosd
