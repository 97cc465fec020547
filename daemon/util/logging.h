#pragma once
// spdlog set-up: human text to stderr, or one JSON object per line for log shippers.

#include <string>

#include "config/config.h"

namespace chaosd {

/// Applies `level` ("info", ...) and `format` to the default logger. Safe to call again (reload).
void setup_logging(const std::string& level, LogFormat format);
bool is_log_level(const std::string& level);

}  // namespace chaosd
