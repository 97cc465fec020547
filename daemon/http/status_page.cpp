#include "daemon/http/status_page.h"

#include <algorithm>
#include <sstream>
#include <vector>

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

std::string cell(const json& value) { return "<td>" + escape_markup(text_of(value)) + "</td>"; }

std::string percent(const json& value) {
  if (!value.is_number()) return "";
  std::ostringstream out;
  out.precision(4);
  out << value.get<double>() * 100 << "%";
  return out.str();
}

// Whole numbers without a fraction ("12000"), others as JSON prints them.
std::string number(const json& value) {
  if (!value.is_number()) return "";
  const double v = value.get<double>();
  if (v == static_cast<double>(static_cast<long long>(v))) {
    return std::to_string(static_cast<long long>(v));
  }
  return value.dump();
}

void targets_table(std::ostream& html, const json& targets) {
  html << "<h2>Targets</h2><table id=\"targets\"><tr><th>target</th><th>address</th><th>up</th>"
          "<th>role</th><th>version</th><th>last error</th></tr>";
  for (const auto& t : targets) {
    const bool up = t.value("up", false);
    html << "<tr class=\"" << (up ? "good" : "bad") << "\">" << cell(t["name"])
         << cell(t["address"]) << "<td>" << (up ? "up" : "DOWN") << "</td>" << cell(t["role"])
         << cell(t["redis_version"]) << cell(t["last_error"]) << "</tr>";
  }
  html << "</table>\n";
}

// Breached SLAs first, the costliest breach on top; then the rest by impact, then by name.
std::vector<const json*> ranked(const json& slas) {
  std::vector<const json*> order;
  for (const auto& s : slas) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const json* a, const json* b) {
    const bool a_met = a->value("met", true);
    const bool b_met = b->value("met", true);
    if (a_met != b_met) return !a_met;
    const double a_weight = a->value("impact_weight", 0.0);
    const double b_weight = b->value("impact_weight", 0.0);
    if (a_weight != b_weight) return a_weight > b_weight;
    return a->value("name", "") < b->value("name", "");
  });
  return order;
}

void slas_table(std::ostream& html, const json& slas) {
  size_t breached = 0;
  for (const auto& s : slas) breached += s.value("met", true) ? 0 : 1;
  html << "<h2>SLAs</h2><p id=\"sla-summary\">" << slas.size() << " SLAs, " << breached
       << " breached (breaches first, ranked by impact weight)</p>"
       << "<table id=\"slas\"><tr><th>sla</th><th>target</th><th>threshold</th><th>objective</th>"
          "<th>last value</th><th>compliance per window</th><th>error budget left</th>"
          "<th>compliance during faults / clean</th><th>impact</th><th>weight</th><th>met</th>"
          "</tr>";
  for (const json* s : ranked(slas)) {
    const bool met = s->value("met", true);
    std::string windows;
    for (const auto& w : (*s)["windows"]) {
      windows += (windows.empty() ? "" : " &middot; ") + escape_markup(text_of(w["window"])) + " " +
                 percent(w["compliance_ratio"]);
    }
    const json& faulty = (*s)["during_faults"];
    const json& clean = (*s)["clean"];
    std::string split = (faulty.is_object() && faulty["compliance_ratio"].is_number()
                             ? percent(faulty["compliance_ratio"])
                             : std::string("&ndash;")) +
                        " / " +
                        (clean.is_object() && clean["compliance_ratio"].is_number()
                             ? percent(clean["compliance_ratio"])
                             : std::string("&ndash;"));
    html << "<tr class=\"" << (met ? "good" : "bad") << "\">" << cell((*s)["name"])
         << cell((*s)["target"]) << "<td>" << escape_markup(text_of((*s)["measurement"])) << " "
         << escape_markup(text_of((*s)["threshold"])) << "</td><td>" << percent((*s)["objective"])
         << "</td>" << cell((*s)["last_value"]) << "<td>" << windows << "</td><td>"
         << percent((*s)["error_budget_remaining_ratio"]) << "</td><td>" << split << "</td>"
         << cell((*s)["impact"]) << "<td>" << number((*s)["impact_weight"]) << "</td><td>"
         << (met ? "yes" : "BREACHED") << "</td></tr>";
  }
  html << "</table>\n";
}

void chaos_tables(std::ostream& html, const json& chaos) {
  html << "<h2>Chaos</h2><p id=\"chaos-state\">";
  if (!chaos.value("enabled", false)) {
    html << "chaos disabled";
  } else if (chaos.value("halted", false)) {
    html << "<b class=\"bad\">HALTED</b>: " << escape_markup(text_of(chaos["halt_reason"]));
  } else {
    html << "chaos enabled";
  }
  html << "</p><h3>Active faults</h3><table id=\"faults\"><tr><th>id</th><th>fault</th>"
          "<th>target</th><th>node</th><th>experiment</th><th>phase</th><th>deadline</th></tr>";
  if (chaos.contains("active")) {
    for (const auto& f : chaos["active"]) {
      html << "<tr class=\"bad\">" << cell(f["id"]) << cell(f["fault"]) << cell(f["target"])
           << cell(f["node"]) << cell(f["experiment"]) << cell(f["phase"]) << cell(f["deadline"])
           << "</tr>";
    }
  }
  html << "</table>\n<h3>Recent experiment runs</h3><table id=\"runs\"><tr><th>run</th>"
          "<th>experiment</th><th>state</th><th>started</th><th>recovery (s)</th>"
          "<th>reason</th></tr>";
  if (chaos.contains("runs")) {
    size_t shown = 0;
    for (const auto& r : chaos["runs"]) {
      if (++shown > 20) break;
      const std::string state = text_of(r["state"]);
      const bool good = state == "succeeded";
      const std::string reason =
          !text_of(r["abort_reason"]).empty() ? text_of(r["abort_reason"]) : text_of(r["error"]);
      html << "<tr class=\"" << (good ? "good" : "bad") << "\">" << cell(r["id"])
           << cell(r["experiment"]) << cell(r["state"]) << cell(r["started_at"]) << "<td>"
           << number(r["recovery_seconds"]) << "</td><td>" << escape_markup(reason) << "</td></tr>";
    }
  }
  html << "</table>\n";
}

void probes_table(std::ostream& html, const json& probes) {
  html << "<h2>Probes</h2><table id=\"probes\"><tr><th>probe</th><th>type</th><th>target</th>"
          "<th>last run</th><th>ok</th><th>errors</th></tr>";
  for (const auto& p : probes) {
    const json& run = p["last_run"];
    const bool ok = run.is_object() && run.value("ok", false);
    html << "<tr class=\"" << (ok ? "good" : "bad") << "\">" << cell(p["name"]) << cell(p["type"])
         << cell(p["target"]) << "<td>"
         << (run.is_object() ? escape_markup(text_of(run["finished_at"])) : "not yet")
         << "</td><td>" << (ok ? "ok" : "failed") << "</td>"
         << (run.is_object() ? cell(run["errors"]) : "<td></td>") << "</tr>";
  }
  html << "</table>\n";
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
       << iso8601(snapshot.built_at) << " &middot; refreshes every 5 s</p>\n";
  targets_table(html, snapshot.targets);
  slas_table(html, snapshot.slas);
  chaos_tables(html, snapshot.chaos);
  probes_table(html, snapshot.probes);
  html << "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/status\">/status</a>"
          " &middot; <a href=\"/api/v1/sla\">/api/v1/sla</a> &middot; <a href=\"/api/v1/faults\">"
          "/api/v1/faults</a> &middot; <a "
          "href=\"/api/v1/runs\">/api/v1/runs</a></p></body></html>\n";
  return html.str();
}

}  // namespace chaosd
