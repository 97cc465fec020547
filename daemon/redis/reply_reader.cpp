#include "daemon/redis/reply_reader.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace chaosd {

// hiredis calls these while it parses. A top-level reply is built in the reader's slot (the
// task's privdata); an array element is appended to its parent's elements (hiredis creates them in
// order, and a completed element is not referred to again, so the vector may grow). Each returns
// where it built, or null when memory runs out: hiredis then fails the read with "Out of memory"
// (an exception must not cross its C frames).
struct ReplyBuilder {
  // An array header is only a claim: "*555555552" must not reserve 555 million elements before
  // any arrives (the reply_reader_fuzzer's first find). Elements beyond this are grown as they
  // come.
  static constexpr size_t kReserveAtMost = 1024;

  static Reply* place(const redisReadTask* task) {
    if (task->parent == nullptr) return static_cast<Reply*>(task->privdata);
    auto& elements = static_cast<Reply*>(task->parent->obj)->elements_;
    elements.resize(std::max(elements.size(), static_cast<size_t>(task->idx) + 1));
    return &elements[static_cast<size_t>(task->idx)];
  }
  template <class Build>
  static void* build(const redisReadTask* task, Build fill) noexcept {
    try {
      Reply* reply = place(task);
      fill(*reply);
      return reply;
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }
  static void* string(const redisReadTask* task, char* text, size_t size) noexcept {
    return build(task, [&](Reply& reply) {
      reply.type_ = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
                    : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                       : Reply::Type::string;
      reply.str_.assign(text, size);
    });
  }
  static void* array(const redisReadTask* task, int elements) noexcept {
    return build(task, [&](Reply& reply) {
      reply.type_ = Reply::Type::array;
      reply.elements_.reserve(std::min(static_cast<size_t>(elements), kReserveAtMost));
    });
  }
  static void* integer(const redisReadTask* task, long long value) noexcept {
    return build(task, [&](Reply& reply) {
      reply.type_ = Reply::Type::integer;
      reply.integer_ = value;
    });
  }
  static void* nil(const redisReadTask* task) noexcept {
    return build(task, [](Reply& reply) { reply.type_ = Reply::Type::nil; });
  }
  // hiredis frees only top-level objects (a finished reply we did not take, or one cut short by
  // a protocol error): the slot, which is emptied. Elements belong to their parent.
  static void free(void* reply) { *static_cast<Reply*>(reply) = Reply(); }
};

namespace {
redisReplyObjectFunctions reply_functions = {
    &ReplyBuilder::string, &ReplyBuilder::array, &ReplyBuilder::integer,
    &ReplyBuilder::nil,    &ReplyBuilder::free,
};
}  // namespace

void ReplyReader::Free::operator()(redisReader* reader) const { redisReaderFree(reader); }

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(&reply_functions)) {
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = &building_;  // hiredis hands it to the top-level task
}

ReplyReader::~ReplyReader() = default;

bool ReplyReader::feed(const char* data, size_t size) {
  if (!error_.empty()) return false;
  if (redisReaderFeed(reader_.get(), data, size) != REDIS_OK) {
    error_ = reader_->errstr[0] ? reader_->errstr : "cannot buffer the reply";
    return false;
  }
  return true;
}

std::optional<Reply> ReplyReader::next() {
  if (!error_.empty()) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
    error_ = reader_->errstr[0] ? reader_->errstr : "protocol error";
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  std::optional<Reply> reply(std::move(building_));
  building_ = Reply();
  return reply;
}

}  // namespace chaosd
