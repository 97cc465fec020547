#pragma once
// A Redis reply (RESP2): nil, status, error, integer, bulk string or array. ReplyReader builds them
// from the wire.

#include <cstdint>
#include <string>
#include <vector>

namespace chaosd {

class Reply {
 public:
  enum class Type { nil, status, error, integer, string, array };

  static Reply make_string(std::string s);
  static Reply make_integer(int64_t v);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::nil; }
  bool is_error() const { return type_ == Type::error; }
  bool is_string() const { return type_ == Type::string || type_ == Type::status; }
  bool is_integer() const { return type_ == Type::integer; }
  bool is_array() const { return type_ == Type::array; }
  /// Status, error and bulk string text; empty for other types.
  const std::string& str() const { return str_; }
  int64_t integer() const { return integer_; }
  const std::vector<Reply>& elements() const { return elements_; }
  /// True for +OK.
  bool is_ok_status() const { return type_ == Type::status && str_ == "OK"; }
  /// Short rendering for logs and error messages.
  std::string debug_string() const;

 private:
  friend struct ReplyBuilder;  // reply_reader.cpp

  Type type_ = Type::nil;
  std::string str_;
  int64_t integer_ = 0;
  std::vector<Reply> elements_;
};

}  // namespace chaosd
