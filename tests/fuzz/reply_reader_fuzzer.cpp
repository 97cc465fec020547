// libFuzzer target: bytes from a Redis server, through ReplyReader (daemon/redis/reply_reader.h):
// hiredis' RESP2 parser and our object functions, which build replies in place in the reader's
// slot and in their parents' elements. Properties: nothing crashes, leaks or trips ASan/UBSan on
// any input (nested arrays cut short, protocol errors mid-array); the replies and the error do
// not depend on how the bytes were split into reads.
// Build and run: scripts/fuzz (docs/reliability.md).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/redis/reply_reader.h"

namespace {

// Every field of a reply, nested, with the sizes that delimit strings.
void render(const chaosd::Reply& reply, std::string& out) {
  out += std::to_string(static_cast<int>(reply.type())) + ":";
  switch (reply.type()) {
    case chaosd::Reply::Type::integer:
      out += std::to_string(reply.integer());
      break;
    case chaosd::Reply::Type::array:
      out += std::to_string(reply.elements().size()) + "[";
      for (const auto& element : reply.elements()) render(element, out);
      out += "]";
      break;
    default:
      out += std::to_string(reply.str().size()) + "=" + reply.str();
  }
  out += ";";
}

// Feeds `text` in reads of at most `chunk` bytes (0: all at once), taking replies as they come.
std::string read_in_chunks(std::string_view text, size_t chunk) {
  chaosd::ReplyReader reader;
  std::string out;
  size_t at = 0;
  do {
    size_t n = chunk == 0 ? text.size() : std::min(chunk, text.size() - at);
    if (!reader.feed(text.data() + at, n)) break;
    at += n;
    while (auto reply = reader.next()) render(*reply, out);
  } while (at < text.size() && reader.error().empty());
  return out + "|" + reader.error();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size of the second pass (1..32 bytes).
  const size_t chunk = 1 + data[0] % 32;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string whole = read_in_chunks(text, 0);
  const std::string split = read_in_chunks(text, chunk);
  if (whole != split) {
    std::fprintf(stderr, "reply_reader_fuzzer: reads of %zu bytes give other replies\n%s\nvs\n%s\n",
                 chunk, whole.c_str(), split.c_str());
    std::abort();
  }
  return 0;
}
