#include "daemon/redis/reply.h"

namespace chaosd {

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
