#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace chaosd {

/// The value of `field` in an INFO reply ("role:master\r\n..."), or "" when absent.
std::string info_field(const std::string& info, const std::string& field);

/// The replicas a primary lists in INFO replication ("slave0:ip=127.0.0.1,port=6380,...").
std::vector<NodeAddress> replicas_from_info(const std::string& info);

}  // namespace chaosd
