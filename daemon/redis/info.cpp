#include "daemon/redis/info.h"

namespace chaosd {

std::string info_field(const std::string& info, const std::string& field) {
  auto at = info.find(field + ":");
  while (at != std::string::npos && at != 0 && info[at - 1] != '\n') {
    at = info.find(field + ":", at + 1);
  }
  if (at == std::string::npos) return "";
  at += field.size() + 1;
  auto end = info.find_first_of("\r\n", at);
  return info.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace chaosd
