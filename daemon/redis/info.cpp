#include "daemon/redis/info.h"

#include <map>
#include <sstream>

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

// "slave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0" -> 127.0.0.1:6380
std::vector<NodeAddress> replicas_from_info(const std::string& info) {
  std::vector<NodeAddress> out;
  for (int i = 0; i < 64; ++i) {
    std::string line = info_field(info, "slave" + std::to_string(i));
    if (line.empty()) break;
    std::map<std::string, std::string> fields;
    std::stringstream parts(line);
    std::string part;
    while (std::getline(parts, part, ',')) {
      auto eq = part.find('=');
      if (eq != std::string::npos) fields[part.substr(0, eq)] = part.substr(eq + 1);
    }
    if (fields.count("ip") && fields.count("port")) {
      out.push_back({fields["ip"], static_cast<uint16_t>(std::stoi(fields["port"]))});
    }
  }
  return out;
}

}  // namespace chaosd
