#pragma once

#include <string>

namespace chaosd {

/// The value of `field` in an INFO reply ("role:master\r\n..."), or "" when absent.
std::string info_field(const std::string& info, const std::string& field);

}  // namespace chaosd
