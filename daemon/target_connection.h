#pragma once

#include "config/config.h"
#include "daemon/redis/connection.h"

namespace chaosd {

/// The connection settings of a configured target (client name left for the caller to set).
ConnectionOptions connection_options(const TargetConfig& target);

}  // namespace chaosd
