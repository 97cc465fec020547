#include "daemon/http/status_page.h"

#include <ctime>
#include <sstream>

#include "daemon/util/escape.h"
#include "daemon/util/time_format.h"

namespace chaosd {
namespace {

using nlohmann::json;

std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

std::string percent(const json& value) {
  if (!value.is_number()) return "";
  std::ostringstream out;
  out.precision(4);
  out << value.get<double>() * 100 << "%";
  return out.str();
}

}  // namespace

json status_json(const StatusSnapshot& snapshot) {
  return json{{"version", snapshot.version},
              {"started_at", iso8601(snapshot.started_at)},
              {"generated_at", iso8601(snapshot.built_at)},
              {"ready", snapshot.ready},
              {"targets", snapshot.targets},
              {"probes", snapshot.probes},
              {"slas", snapshot.slas}};
}

std::string render_status_page(const StatusSnapshot& snapshot) {
  std::ostringstream html;
  html << R"(<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>redis-chaosd</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
.bad{background:#fdd}.good{background:#dfd}</style></head><body>
<h1>redis-chaosd</h1>)";
  html << "<p>version " << escape_markup(snapshot.version) << " &middot; generated "
       << iso8601(snapshot.built_at) << "</p>\n<h2>Targets</h2><table id=\"targets\">"
       << "<tr><th>target</th><th>address</th><th>up</th><th>role</th><th>version</th>"
          "<th>last error</th></tr>";
  for (const auto& t : snapshot.targets) {
    bool up = t.value("up", false);
    html << "<tr class=\"" << (up ? "good" : "bad") << "\"><td>"
         << escape_markup(text_of(t["name"])) << "</td><td>" << escape_markup(text_of(t["address"]))
         << "</td><td>" << (up ? "up" : "DOWN") << "</td><td>" << escape_markup(text_of(t["role"]))
         << "</td><td>" << escape_markup(text_of(t["redis_version"])) << "</td><td>"
         << escape_markup(text_of(t["last_error"])) << "</td></tr>";
  }
  html << "</table>\n<h2>SLAs</h2><table id=\"slas\"><tr><th>sla</th><th>threshold</th>"
          "<th>objective</th><th>last value</th><th>compliance (shortest window)</th>"
          "<th>error budget left</th><th>met</th></tr>";
  for (const auto& s : snapshot.slas) {
    bool met = s.value("met", true);
    json first_window = s["windows"].empty() ? json() : s["windows"][0];
    html << "<tr class=\"" << (met ? "good" : "bad") << "\"><td>"
         << escape_markup(text_of(s["name"])) << "</td><td>"
         << escape_markup(text_of(s["measurement"])) << " "
         << escape_markup(text_of(s["threshold"])) << "</td><td>" << percent(s["objective"])
         << "</td><td>" << escape_markup(text_of(s["last_value"])) << "</td><td>"
         << (first_window.is_object() ? percent(first_window["compliance_ratio"]) + " (" +
                                            text_of(first_window["window"]) + ")"
                                      : "")
         << "</td><td>" << percent(s["error_budget_remaining_ratio"]) << "</td><td>"
         << (met ? "yes" : "BREACHED") << "</td></tr>";
  }
  html << "</table>\n<h2>Probes</h2><table id=\"probes\"><tr><th>probe</th><th>type</th>"
          "<th>target</th><th>last run</th><th>ok</th><th>errors</th></tr>";
  for (const auto& p : snapshot.probes) {
    const json& run = p["last_run"];
    bool ok = run.is_object() && run.value("ok", false);
    html << "<tr class=\"" << (ok ? "good" : "bad") << "\"><td>"
         << escape_markup(text_of(p["name"])) << "</td><td>" << escape_markup(text_of(p["type"]))
         << "</td><td>" << escape_markup(text_of(p["target"])) << "</td><td>"
         << (run.is_object() ? escape_markup(text_of(run["finished_at"])) : "not yet")
         << "</td><td>" << (ok ? "ok" : "failed") << "</td><td>"
         << (run.is_object() ? escape_markup(text_of(run["errors"])) : "") << "</td></tr>";
  }
  html << "</table>\n<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/status\">/status</a>"
          " &middot; <a href=\"/api/v1/sla\">/api/v1/sla</a></p></body></html>\n";
  return html.str();
}

}  // namespace chaosd
