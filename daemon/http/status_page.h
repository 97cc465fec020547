#pragma once
// Renders the snapshot as the /status JSON document and as the HTML page at /.

#include <nlohmann/json.hpp>
#include <string>

#include "daemon/status_snapshot.h"

namespace chaosd {

nlohmann::json status_json(const StatusSnapshot& snapshot);
/// A self-contained page (no external assets: works offline), refreshing itself every 5 s.
std::string render_status_page(const StatusSnapshot& snapshot);

}  // namespace chaosd
