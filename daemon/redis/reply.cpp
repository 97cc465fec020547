#include "daemon/redis/reply.h"

#include <hiredis/hiredis.h>

namespace chaosd {

Reply Reply::from_hiredis(const redisReply* r) {
  Reply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type_ = Type::string;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type_ = Type::status;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type_ = Type::error;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type_ = Type::integer;
      out.integer_ = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type_ = Type::array;
      out.elements_.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements_.push_back(from_hiredis(r->element[i]));
      break;
    default:
      out.type_ = Type::nil;
  }
  return out;
}

Reply Reply::make_string(std::string s) {
  Reply out;
  out.type_ = Type::string;
  out.str_ = std::move(s);
  return out;
}

Reply Reply::make_integer(int64_t v) {
  Reply out;
  out.type_ = Type::integer;
  out.integer_ = v;
  return out;
}

std::string Reply::debug_string() const {
  switch (type_) {
    case Type::nil:
      return "(nil)";
    case Type::status:
      return str_;
    case Type::error:
      return "(error) " + str_;
    case Type::integer:
      return "(integer) " + std::to_string(integer_);
    case Type::string:
      return '"' + str_.substr(0, 64) + (str_.size() > 64 ? "...\"" : "\"");
    case Type::array: {
      std::string s = "[";
      for (size_t i = 0; i < elements_.size() && i < 8; ++i) {
        if (i) s += ", ";
        s += elements_[i].debug_string();
      }
      if (elements_.size() > 8) s += ", ...";
      return s + "]";
    }
  }
  return "?";
}

}  // namespace chaosd
