#include "daemon/util/result.h"

namespace chaosd {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::disconnected:
      return "disconnected";
    case ErrorCode::connect_failed:
      return "connect failed";
    case ErrorCode::cancelled:
      return "cancelled";
    case ErrorCode::redis_error:
      return "redis error";
    case ErrorCode::protocol:
      return "protocol error";
    case ErrorCode::invalid_argument:
      return "invalid argument";
    case ErrorCode::not_found:
      return "not found";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::internal:
      return "internal error";
  }
  return "unknown error";
}

}  // namespace chaosd
