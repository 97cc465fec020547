#include "daemon/redis/reply_reader.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <stdexcept>

namespace chaosd {

// hiredis calls these while it parses. A top-level reply is built in the reader's slot (the
// task's privdata); an array element in its parent's elements (sized when the array was
// created). Each returns where it built.
struct ReplyBuilder {
  static Reply* place(const redisReadTask* task) {
    if (task->parent == nullptr) return static_cast<Reply*>(task->privdata);
    auto* parent = static_cast<Reply*>(task->parent->obj);
    return &parent->elements_[static_cast<size_t>(task->idx)];
  }
  static void* string(const redisReadTask* task, char* text, size_t size) {
    Reply* reply = place(task);
    reply->type_ = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
                   : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                      : Reply::Type::string;
    reply->str_.assign(text, size);
    return reply;
  }
  static void* array(const redisReadTask* task, int elements) {
    Reply* reply = place(task);
    reply->type_ = Reply::Type::array;
    reply->elements_.resize(static_cast<size_t>(elements));
    return reply;
  }
  static void* integer(const redisReadTask* task, long long value) {
    Reply* reply = place(task);
    reply->type_ = Reply::Type::integer;
    reply->integer_ = value;
    return reply;
  }
  static void* nil(const redisReadTask* task) {
    Reply* reply = place(task);
    reply->type_ = Reply::Type::nil;
    return reply;
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
