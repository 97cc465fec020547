#pragma once
// Turns the bytes a Redis connection reads into Reply objects: hiredis' RESP2 parser (redisReader)
// with object functions that build our Reply in place, in a slot of the reader that next() moves
// out, so a "+OK" allocates nothing (a redisReply, copied, took two allocations and two frees).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "daemon/redis/reply.h"

struct redisReader;

namespace chaosd {

class ReplyReader {
 public:
  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  /// Appends bytes read from the server. False on a protocol error (see error()).
  bool feed(const char* data, size_t size);
  /// The next complete reply, or nothing when more bytes are needed or on a protocol error.
  std::optional<Reply> next();
  /// Empty, or why the stream is not valid RESP. Once set, the reader is unusable.
  const std::string& error() const { return error_; }

 private:
  struct Free {
    void operator()(redisReader* reader) const;
  };
  // The reply being built. Declared before reader_: hiredis may reset it when the reader is freed.
  Reply building_;
  std::unique_ptr<redisReader, Free> reader_;
  std::string error_;
};

}  // namespace chaosd
