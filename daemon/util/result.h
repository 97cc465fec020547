#pragma once
// Result<T>: a value or an Error, for the data plane where exceptions are not used (DESIGN.md §1).

#include <string>
#include <utility>
#include <variant>

namespace chaosd {

enum class ErrorCode {
  timeout,           // the deadline passed before an answer came
  disconnected,      // no connection (down, reconnecting, or dropped mid-command)
  connect_failed,    // the connection or its handshake (AUTH/SELECT) failed
  cancelled,         // the caller's operation was cancelled (e.g. its probe timed out)
  redis_error,       // the server answered with an error reply
  protocol,          // an answer of an unexpected shape
  invalid_argument,  // the caller's input is wrong (an HTTP 400)
  not_found,         // no such thing (an HTTP 404)
  conflict,          // it exists already / the state forbids it (an HTTP 409)
  internal,
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::string describe() const { return std::string(to_string(code)) + ": " + message; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace chaosd
