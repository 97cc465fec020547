#!/usr/bin/env python3
"""Generates the Grafana dashboards of grafana/dashboards/ (python3 standard library only).

  python3 grafana/generate.py           write grafana/dashboards/*.json
  python3 grafana/generate.py --check   exit 1 if a committed file differs from what this writes

The ctest deploy.grafana runs the check, so edit this file, not the JSON, and run it again.
Metric names come from docs/metrics.md, measurement names from docs/probes*.md; the e2e test
e2e.Grafana.* runs every query below against a real Prometheus scraping the lab.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")

DS = {"type": "prometheus", "uid": "${datasource}"}
TAG = "redis-chaosd"

# --- variables ------------------------------------------------------------------------------------


def datasource_variable():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "includeAll": False,
            "multi": False, "options": [], "refresh": 1, "regex": "", "skipUrlSync": False}


def query_variable(name, label, definition, multi=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": definition, "query": definition, "current": {}, "hide": 0,
            "includeAll": multi, "multi": multi, "allValue": ".*" if multi else None,
            "options": [], "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1}


INSTANCE = query_variable("instance", "Daemon", "label_values(redis_chaosd_build_info, instance)")
TARGET = query_variable("target", "Target",
                        'label_values(redis_chaosd_target_up{instance=~"$instance"}, target)')


def probe_variable(types):
    return query_variable(
        "probe", "Probe",
        'label_values(redis_chaosd_probe_up{instance=~"$instance", target=~"$target", '
        f'type=~"{"|".join(types)}"}}, probe)')


WINDOW = query_variable(
    "window", "SLA window",
    'label_values(redis_chaosd_sla_compliance_ratio{instance=~"$instance"}, window)', multi=False)
FAULT = query_variable(
    "fault", "Fault",
    'label_values(redis_chaosd_chaos_injections_total{instance=~"$instance"}, fault)')

# Label selectors: every variable is matched with =~ (its "All" value is .*).
SEL = 'instance=~"$instance", target=~"$target"'
SEL_PROBE = SEL + ', probe=~"$probe"'
# The SLAs of the selected daemons and targets (sla_met carries probe/target/measurement; the
# other SLA series only `sla`): `X and on (job, instance, sla) SLAS` keeps X's labels.
SLAS = f"redis_chaosd_sla_met{{{SEL}}}"

# --- panels ---------------------------------------------------------------------------------------


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend,
         "range": not instant, "instant": instant, "refId": ref}
    if fmt != "time_series":
        t["format"] = fmt
    return t


def refs(targets):
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    return targets


def thresholds(steps):
    return {"mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in steps]}


GREEN = [(None, "green")]


def timeseries(title, targets, unit="short", description="", min_=None, max_=None, bars=False,
               overrides=None, steps=None):
    defaults = {"unit": unit, "color": {"mode": "palette-classic"},
                "custom": {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
                           "fillOpacity": 60 if bars else 10, "showPoints": "auto",
                           "spanNulls": False, "axisSoftMin": 0 if min_ is None else min_,
                           "thresholdsStyle": {"mode": "line" if steps else "off"}},
                "thresholds": thresholds(steps or GREEN)}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {"type": "timeseries", "title": title, "description": description,
            "targets": refs(targets),
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["lastNotNull", "max"], "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title, targets, unit="short", description="", steps=None, mappings=None,
         text_mode="auto"):
    return {"type": "stat", "title": title, "description": description,
            "targets": refs(targets),
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "color": {"mode": "thresholds"},
                                         "thresholds": thresholds(steps or GREEN)},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": text_mode,
                        "justifyMode": "auto", "orientation": "auto"}}


def state_timeline(title, targets, mappings, description=""):
    return {"type": "state-timeline", "title": title, "description": description,
            "targets": refs(targets),
            "fieldConfig": {"defaults": {"mappings": mappings, "color": {"mode": "thresholds"},
                                         "thresholds": thresholds(GREEN),
                                         "custom": {"fillOpacity": 80, "lineWidth": 0}},
                            "overrides": []},
            "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.9,
                        "alignValue": "left", "legend": {"showLegend": False},
                        "tooltip": {"mode": "single"}}}


def table(title, targets, renames, description="", overrides=None):
    return {"type": "table", "title": title, "description": description,
            "targets": refs(targets),
            "fieldConfig": {"defaults": {"custom": {"align": "auto", "filterable": True}},
                            "overrides": overrides or []},
            "options": {"showHeader": True, "footer": {"show": False}},
            "transformations": [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": {"Time": True},
                                               "renameByName": renames}}]}


def value_map(pairs):
    return [{"type": "value", "options": {str(value): {"text": text, "color": color, "index": i}
                                          for i, (value, text, color) in enumerate(pairs)}}]


UP_DOWN = value_map([(0, "DOWN", "red"), (1, "UP", "green")])
OK_FAILED = value_map([(0, "failed", "red"), (1, "ok", "green")])
MET = value_map([(0, "breached", "red"), (1, "met", "green")])
FAULT_STATE = value_map([(0, "reverted", "transparent"), (1, "ACTIVE", "red")])


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


# --- measurements (the measurement label of redis_chaosd_measurement, docs/probes*.md) -----------


def unit_of(measurement):
    if measurement.endswith("_seconds"):
        return "s"
    if measurement.endswith("_ratio"):
        return "percentunit"
    if measurement.endswith("_per_second"):
        return "ops"
    if measurement.endswith("_bytes"):
        return "bytes"
    return "short"


def measurement_expr(measurement):
    return f'redis_chaosd_measurement{{{SEL_PROBE}, measurement="{measurement}"}}'


def sla_threshold_expr(measurement):
    """The threshold of the SLAs on `measurement` of the selected probes (the largest when they
    differ): a dashed line on the measurement's panel."""
    return (f'max by (op) (redis_chaosd_sla_threshold{{instance=~"$instance"}} and on (job, '
            f'instance, sla) redis_chaosd_sla_met{{{SEL_PROBE}, measurement="{measurement}"}})')


THRESHOLD_STYLE = {"matcher": {"id": "byFrameRefID", "options": "Z"},
                   "properties": [{"id": "custom.lineStyle",
                                   "value": {"fill": "dash", "dash": [10, 10]}},
                                  {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                                  {"id": "custom.fillOpacity", "value": 0}]}


def measurement_panel(title, measurements, description, sla=None, legend=None):
    """Last value per run of one or more measurements, with the SLA threshold of `sla` (a
    measurement with a default SLA) as a dashed red line."""
    if isinstance(measurements, str):
        measurements = [measurements]
    targets = []
    for m in measurements:
        name = legend or ("{{probe}} {{subject}}" if len(measurements) == 1
                          else "{{probe}} {{subject}} " + m)
        targets.append(target(measurement_expr(m), name))
    # No max: some ratios exceed 1 (codec_overhead_ratio is a cost relative to the raw bytes).
    panel = timeseries(title, targets, unit=unit_of(measurements[0]), description=description,
                       min_=0)
    if sla:
        panel["targets"].append(target(sla_threshold_expr(sla), "SLA threshold {{op}}", ref="Z"))
        panel["fieldConfig"]["overrides"].append(THRESHOLD_STYLE)
    return panel


def quantile_panel(title, measurement, description, by="probe, subject", sla=True):
    """p99 over the runs of a timing measurement, from redis_chaosd_measurement_seconds."""
    expr = (f"histogram_quantile(0.99, sum by (le, {by}) (rate(redis_chaosd_measurement_seconds_"
            f'bucket{{{SEL_PROBE}, measurement="{measurement}"}}[$__rate_interval])))')
    targets = [target(expr, "p99 " + " ".join("{{%s}}" % label.strip()
                                              for label in by.split(",")))]
    panel = timeseries(title, targets, unit="s", description=description, min_=0)
    if sla:
        panel["targets"].append(target(sla_threshold_expr(measurement), "SLA threshold {{op}}",
                                       ref="Z"))
        panel["fieldConfig"]["overrides"].append(THRESHOLD_STYLE)
    return panel


def probe_runs_panel(types):
    return state_timeline(
        "Probe runs (last run ok / failed)",
        [target(f'redis_chaosd_probe_up{{{SEL_PROBE}, type=~"{"|".join(types)}"}}',
                "{{probe}}")],
        OK_FAILED,
        "redis_chaosd_probe_up: 1 if the probe's last run succeeded. A failed run reports no "
        "measurements (or partial ones): gaps in the panels below.")


# --- layout ---------------------------------------------------------------------------------------


def layout(items):
    """items: panels with a width `w` and height `h` (rows span the full width). Fills rows of 24
    columns left to right; gives every panel a gridPos and an id."""
    x = y = 0
    line_height = 0
    panels = []
    for panel_id, (panel, w, h) in enumerate(items, start=1):
        if panel["type"] == "row":
            if x:
                y += line_height
            x, line_height = 0, 0
            w, h = 24, 1
        elif x + w > 24:
            x, y, line_height = 0, y + line_height, 0
        panel = dict(panel)
        panel["id"] = panel_id
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        panel["datasource"] = DS
        panels.append(panel)
        x += w
        line_height = max(line_height, h)
        if panel["type"] == "row":
            x, y, line_height = 0, y + 1, 0
    return panels


FAULT_ANNOTATION = {
    "name": "Chaos faults", "datasource": DS, "enable": True, "iconColor": "red",
    # max_over_time over the step: a fault shorter than the step is not skipped between two
    # evaluations.
    "expr": f"max_over_time(redis_chaosd_chaos_fault_active{{{SEL}}}[10s]) == 1",
    "step": "10s", "titleFormat": "{{fault}} on {{target}}",
    "textFormat": "experiment: {{experiment}}", "tagKeys": "fault,target,experiment",
    "useValueForTime": False}
BUILTIN_ANNOTATION = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
    "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
    "type": "dashboard"}


def dashboard(uid, title, description, variables, items):
    return {
        "annotations": {"list": [BUILTIN_ANNOTATION, FAULT_ANNOTATION]},
        "description": description,
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [{"type": "dashboards", "tags": [TAG], "asDropdown": True, "title": "redis-chaosd",
                   "includeVars": True, "keepTime": True, "icon": "external link",
                   "targetBlank": False, "tooltip": "", "url": ""}],
        "panels": layout(items),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": [TAG],
        "templating": {"list": [datasource_variable()] + variables},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# --- overview -------------------------------------------------------------------------------------


def sla_joined(metric):
    """A per-SLA series with the probe, target and measurement labels of its sla_met series."""
    return (f"{metric} + on (job, instance, sla) group_left (probe, target, measurement) "
            f"(0 * {SLAS})")


def overview():
    count_or_zero = "count({}) or vector(0)"
    items = [
        (row("Now"), 24, 1),
        (stat("Daemons scraped", [target(f'up{{job="redis-chaosd", instance=~"$instance"}}',
                                         "{{instance}}", instant=True)],
              mappings=UP_DOWN, steps=[(None, "red"), (1, "green")],
              description='up{job="redis-chaosd"}: Prometheus could scrape the daemon (the job '
                          "name RedisChaosdDown expects)."), 4, 4),
        (stat("Targets", [target(f"redis_chaosd_target_up{{{SEL}}}", "{{target}}",
                                 instant=True)],
              mappings=UP_DOWN, steps=[(None, "red"), (1, "green")],
              description="redis_chaosd_target_up: the daemon's health check (PING) of each "
                          "Redis target."), 8, 4),
        (stat("SLAs breached", [target(count_or_zero.format(f"{SLAS} == 0"), "breached",
                                       instant=True)],
              steps=[(None, "green"), (1, "red")],
              description="SLAs whose compliance over their shortest window is below the "
                          "objective (redis_chaosd_sla_met == 0)."), 3, 4),
        (stat("Probes failing", [target(count_or_zero.format(
            f"redis_chaosd_probe_up{{{SEL}}} == 0"), "failing", instant=True)],
              steps=[(None, "green"), (1, "orange")],
              description="Probes whose last run failed (redis_chaosd_probe_up == 0)."), 3, 4),
        (stat("Active faults", [target(
            f"sum(redis_chaosd_chaos_fault_active{{{SEL}}}) or vector(0)", "active",
            instant=True)], steps=[(None, "green"), (1, "red")],
              description="Chaos faults injected and not yet reverted. They show as red "
                          "annotations on every time series panel."), 3, 4),
        (stat("Chaos", [target('redis_chaosd_chaos_enabled{instance=~"$instance"}', "enabled",
                               instant=True),
                        target('redis_chaosd_chaos_halted{instance=~"$instance"}', "halted",
                               instant=True)],
              mappings=value_map([(0, "no", "blue"), (1, "yes", "purple")]),
              description="[chaos] enabled = true, and whether chaos is halted "
                          "(POST /api/v1/chaos/halt, dead-man switch, shutdown)."), 3, 4),
        (row("SLAs"), 24, 1),
        (table("SLAs: met, compliance per window, error budget, burn rate", [
            target(f"{SLAS} * 1", instant=True, fmt="table"),
            target(sla_joined(f'redis_chaosd_sla_objective_ratio{{instance=~"$instance"}}'),
                   instant=True, fmt="table"),
            *[target(sla_joined(f'redis_chaosd_sla_compliance_ratio{{instance=~"$instance", '
                                f'window="{w}"}}'), instant=True, fmt="table")
              for w in ("5m", "1h", "1d", "30d")],
            target(sla_joined(f'redis_chaosd_sla_error_budget_remaining_ratio'
                              f'{{instance=~"$instance"}}'), instant=True, fmt="table"),
            target(sla_joined('redis_chaosd_sla:burn_rate:rate1h{instance=~"$instance"}'),
                   instant=True, fmt="table"),
        ], {"Value #A": "met", "Value #B": "objective", "Value #C": "compliance 5m",
            "Value #D": "compliance 1h", "Value #E": "compliance 1d", "Value #F": "compliance 30d",
            "Value #G": "error budget left", "Value #H": "burn rate 1h"},
              description="One row per SLA. Compliance columns show the default windows (5m, 1h, "
                          "1d, 30d); an SLA with other windows leaves them empty (see the panel "
                          "below with the window variable). Burn rate 1h is the Prometheus "
                          "recording rule redis_chaosd_sla:burn_rate:rate1h (what the alerts "
                          "use): 1 spends the budget exactly over the SLA window.",
              overrides=[
                  {"matcher": {"id": "byName", "options": "met"},
                   "properties": [{"id": "mappings", "value": MET},
                                  {"id": "custom.cellOptions",
                                   "value": {"type": "color-background"}}]},
                  {"matcher": {"id": "byRegexp", "options": "^(objective|compliance.*|error "
                                                            "budget left)$"},
                   "properties": [{"id": "unit", "value": "percentunit"},
                                  {"id": "decimals", "value": 3}]},
                  {"matcher": {"id": "byRegexp", "options": "^(job|__name__)$"},
                   "properties": [{"id": "custom.hidden", "value": True}]}]), 24, 9),
        (timeseries("Compliance over $window", [target(
            f'redis_chaosd_sla_compliance_ratio{{instance=~"$instance", window=~"$window"}} '
            f"and on (job, instance, sla) {SLAS}", "{{sla}}")], unit="percentunit", max_=1,
            description="redis_chaosd_sla_compliance_ratio: good events / all events in the "
                        "window (1 with no events)."), 12, 8),
        (timeseries("Error budget remaining", [target(
            f'redis_chaosd_sla_error_budget_remaining_ratio{{instance=~"$instance"}} '
            f"and on (job, instance, sla) {SLAS}", "{{sla}}")], unit="percentunit",
            min_=None, steps=[(None, "red"), (0, "orange"), (0.25, "green")],
            description="1 - burn rate over the SLA's longest window; negative when "
                        "overspent."), 12, 8),
        (timeseries("Burn rate (Prometheus rules, 1h and 5m)", [
            target(f'redis_chaosd_sla:burn_rate:rate1h{{instance=~"$instance"}} and on (job, '
                   f"instance, sla) {SLAS}", "{{sla}} 1h"),
            target(f'redis_chaosd_sla:burn_rate:rate5m{{instance=~"$instance"}} and on (job, '
                   f"instance, sla) {SLAS}", "{{sla}} 5m")],
            steps=[(None, "green"), (14.4, "red")],
            description="Recording rules redis_chaosd_sla:burn_rate:rate<W> from the event "
                        "counters. The page alert fires when both exceed 14.4 (red line)."),
         12, 8),
        (timeseries("Burn rate (daemon, $window)", [target(
            f'redis_chaosd_sla_burn_rate{{instance=~"$instance", window=~"$window"}} '
            f"and on (job, instance, sla) {SLAS}", "{{sla}}")],
            description="redis_chaosd_sla_burn_rate over the SLA's own window: (bad / total) / "
                        "(1 - objective)."), 12, 8),
        (timeseries("Bad SLA events per second", [target(
            f'sum by (sla) (rate(redis_chaosd_sla_events_total{{instance=~"$instance", '
            f'result="bad"}}[$__rate_interval]) and on (job, instance, sla) {SLAS})',
            "{{sla}}")], unit="short",
            description="Measurements that missed their SLA's threshold."), 24, 7),
        (row("Probes"), 24, 1),
        (state_timeline("Last run ok / failed", [target(f"redis_chaosd_probe_up{{{SEL}}}",
                                                        "{{probe}}")], OK_FAILED,
                        "redis_chaosd_probe_up per probe."), 12, 9),
        (timeseries("Failed runs ratio", [target(
            f"sum by (probe) (rate(redis_chaosd_probe_failures_total{{{SEL}}}[$__rate_interval]))"
            f" / sum by (probe) (rate(redis_chaosd_probe_runs_total{{{SEL}}}"
            f"[$__rate_interval]))", "{{probe}}")], unit="percentunit", max_=1,
            description="Failed runs / runs (empty for a probe without a run in the "
                        "interval)."), 12, 9),
        (timeseries("Run duration p95", [target(
            "histogram_quantile(0.95, sum by (le, probe) (rate("
            f"redis_chaosd_probe_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))",
            "{{probe}}")], unit="s", description="redis_chaosd_probe_duration_seconds."),
         12, 8),
        (timeseries("Seconds since the last run", [target(
            f"time() - (redis_chaosd_probe_last_run_timestamp_seconds{{{SEL}}} > 0)", "{{probe}}")],
            unit="s", description="A probe that stops running grows here (probes without a "
                                  "finished run are left out)."), 12, 8),
        (row("Targets and replication"), 24, 1),
        (state_timeline("Targets up", [target(f"redis_chaosd_target_up{{{SEL}}}", "{{target}}")],
                        UP_DOWN, "redis_chaosd_target_up."), 12, 7),
        (timeseries("Replication lag", [target(
            f"redis_chaosd_replication_lag_seconds{{{SEL}}}", "{{target}} {{region}}")], unit="s",
            description="redis_chaosd_replication_lag_seconds: last lag measured by a "
                        "replication probe per replica or region."), 12, 7),
        (row("Daemon process"), 24, 1),
        (timeseries("CPU", [target(
            'rate(process_cpu_seconds_total{instance=~"$instance"}[$__rate_interval]) '
            "and on (job, instance) redis_chaosd_build_info", "{{instance}}")], unit="percentunit",
            description="CPU seconds per second (1 = one core)."), 6, 7),
        (timeseries("Resident memory", [target(
            'process_resident_memory_bytes{instance=~"$instance"} '
            "and on (job, instance) redis_chaosd_build_info", "{{instance}}")], unit="bytes"),
         6, 7),
        (timeseries("Open file descriptors", [
            target('process_open_fds{instance=~"$instance"} '
                   "and on (job, instance) redis_chaosd_build_info", "{{instance}} open"),
            target('process_max_fds{instance=~"$instance"} '
                   "and on (job, instance) redis_chaosd_build_info", "{{instance}} limit")]),
         4, 7),
        (stat("Uptime", [
            target('time() - process_start_time_seconds{instance=~"$instance"} '
                   "and on (job, instance) redis_chaosd_build_info", "{{instance}}",
                   instant=True)], unit="s", steps=[(None, "blue")]), 4, 7),
        (stat("Version", [target('redis_chaosd_build_info{instance=~"$instance"}',
                                 "{{version}}", instant=True)], text_mode="name",
              steps=[(None, "blue")], description="redis_chaosd_build_info."), 4, 7),
    ]
    return dashboard(
        "redis-chaosd-overview", "redis-chaosd / Overview",
        "SLAs (met, compliance, error budget, burn rates), probe and target health, chaos "
        "faults (annotations) and the daemon process.",
        [INSTANCE, TARGET, WINDOW], items)


# --- probe families -------------------------------------------------------------------------------


def latency_ttl_replication():
    types = ["latency", "ttl", "replication"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("latency: command latency and availability"), 24, 1),
        (measurement_panel("Availability", "availability_ratio",
                           "Commands that succeeded / commands sent, per run.",
                           sla="availability_ratio"), 8, 8),
        (measurement_panel("GET latency (median per run)", "get_latency_seconds",
                           "Median over the run's GETs.", sla="get_latency_seconds"), 8, 8),
        (quantile_panel("GET latency p99 over runs", "get_latency_seconds",
                        "p99 of the per-run medians (redis_chaosd_measurement_seconds), against "
                        "the SLA threshold.", by="probe"), 8, 8),
        (measurement_panel("PING / SET latency (median per run)",
                           ["ping_latency_seconds", "set_latency_seconds"],
                           "Median over the run's PINGs and SETs."), 12, 8),
        (measurement_panel("Slowest command per run", "max_latency_seconds",
                           "The slowest successful command of each run."), 12, 8),
        (row("ttl: expiry accuracy, timing, reclaim"), 24, 1),
        (measurement_panel("Expiry accuracy", "expiry_accuracy_ratio",
                           "Keys present just before their deadline and gone just after, on the "
                           "primary.", sla="expiry_accuracy_ratio"), 8, 8),
        (measurement_panel("Expiry accuracy on replica reads", "replica_expiry_accuracy_ratio",
                           "The same check read from each replica (subject).",
                           sla="replica_expiry_accuracy_ratio"), 8, 8),
        (measurement_panel("Expiry timing error", "expiry_timing_error_seconds",
                           "Worst timing error over the timing keys.",
                           sla="expiry_timing_error_seconds"), 8, 8),
        (measurement_panel("Expired keys reclaimed", "expired_reclaim_ratio",
                           "Keys whose `expired` keyspace event arrived in time (absent when "
                           "notifications are off).", sla="expired_reclaim_ratio"), 12, 8),
        (measurement_panel("Reclaim delay", "reclaim_delay_seconds",
                           "Worst delay from deadline to `expired` event."), 12, 8),
        (row("replication: lag and convergence"), 24, 1),
        (timeseries("Replication lag per replica / region", [
            target(f"redis_chaosd_replication_lag_seconds{{{SEL}}}", "{{target}} {{region}}"),
            target(sla_threshold_expr("replication_lag_seconds"), "SLA threshold {{op}}",
                   ref="Z")],
            unit="s", min_=0, overrides=[THRESHOLD_STYLE],
            description="redis_chaosd_replication_lag_seconds: heartbeat written on the primary "
                        "until seen on the replica, on the daemon's clock."), 12, 8),
        (quantile_panel("Replication lag p99 over runs", "replication_lag_seconds",
                        "p99 of the measured lags per replica (subject)."), 12, 8),
        (measurement_panel("Convergence", "convergence_ratio",
                           "Replicas that showed the heartbeat within max_wait.",
                           sla="convergence_ratio"), 24, 7),
    ]
    return dashboard(
        "redis-chaosd-latency-ttl-replication", "redis-chaosd / Latency, TTL, replication",
        "The latency, ttl and replication probes: command latency and availability, key expiry "
        "accuracy, replication lag.",
        [INSTANCE, TARGET, probe_variable(types)], items)


def locks_stampede():
    types = ["lock", "stampede"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("lock: contention, safety, deadlocks, lease expiry"), 24, 1),
        (measurement_panel("Acquire latency p99", "lock_acquire_p99_seconds",
                           "First attempt to acquired, p99 over the contention phase.",
                           sla="lock_acquire_p99_seconds"), 8, 8),
        (measurement_panel("Lock throughput", "lock_throughput_per_second",
                           "Acquisitions per second of the contention phase.",
                           sla="lock_throughput_per_second"), 8, 8),
        (measurement_panel("Safety violations", "lock_safety_violations_total",
                           "Non-increasing fencing tokens and overlapping holders (must be 0).",
                           sla="lock_safety_violations_total"), 8, 8),
        (measurement_panel("Acquisitions and timeouts per run",
                           ["lock_acquisitions_total", "lock_timeouts_total"],
                           "Locks taken in the contention phase, and acquisitions given up."),
         8, 8),
        (measurement_panel("Deadlock detection vs timeout resolution",
                           ["deadlock_detection_seconds", "deadlock_timeout_resolution_seconds"],
                           "Wait-for cycle formed to detected, and the same cycle resolved by "
                           "timeouts only.", sla="deadlock_detection_seconds"), 8, 8),
        (measurement_panel("Lease expiry recovery", "lease_expiry_recovery_seconds",
                           "Dead holder's acquire to another worker holding the lock.",
                           sla="lease_expiry_recovery_seconds"), 8, 8),
        (measurement_panel("Deadlocks with ordered locking", "ordered_deadlocks_total",
                           "Wait-for cycles while two parties take locks in one global order "
                           "(must be 0).", sla="ordered_deadlocks_total"), 12, 7),
        (measurement_panel("Ordered completion", "ordered_completion_ratio",
                           "Parties of the ordering scenario that held both locks."), 12, 7),
        (row("stampede: single-flight recomputation"), 24, 1),
        (measurement_panel("Recomputations per expiry", "recomputations_per_expiry",
                           "Recomputations of a hot key per expiry (1 is single-flight).",
                           sla="recomputations_per_expiry"), 8, 8),
        (measurement_panel("Stampede prevention", "stampede_prevention_ratio",
                           "1 - (recomputations - 1) / (readers - 1), averaged over keys.",
                           sla="stampede_prevention_ratio"), 8, 8),
        (measurement_panel("Recompute lock acquire p99", "lock_acquire_seconds",
                           "Miss to lock granted, over the readers that recomputed.",
                           sla="lock_acquire_seconds"), 8, 8),
        (measurement_panel("Computation efficiency", "computation_efficiency_ratio",
                           "Computations whose value reached the readers / all computations.",
                           sla="computation_efficiency_ratio"), 12, 8),
        (measurement_panel("Reader wait p99 and lock takeover",
                           ["reader_wait_seconds", "takeover_seconds"],
                           "Miss to value in hand (p99), and a dead holder's lock taken over "
                           "by a reader."), 12, 8),
    ]
    return dashboard(
        "redis-chaosd-locks-stampede", "redis-chaosd / Locks and stampedes",
        "The lock probe (contention, fencing safety, deadlocks, lease expiry) and the stampede "
        "probe (single-flight recomputation of a hot key).",
        [INSTANCE, TARGET, probe_variable(types)], items)


def cache():
    types = ["invalidation", "eviction", "warming", "collision", "serialization"]
    items = [
        (probe_runs_panel(types), 24, 6),
        (row("invalidation: CLIENT TRACKING cascades (subject = scenario)"), 24, 1),
        (measurement_panel("Propagation p99", "propagation_seconds",
                           "Root write to each service's invalidation received.",
                           sla="propagation_seconds"), 6, 8),
        (measurement_panel("Propagation ratio", "propagation_ratio",
                           "Invalidations received within max_wait.",
                           sla="propagation_ratio"), 6, 8),
        (measurement_panel("Stale reads", "stale_reads_total",
                           "Reads that did not return the new value (must be 0).",
                           sla="stale_reads_total"), 6, 8),
        (measurement_panel("Background load", "load_ops_per_second",
                           "SET+GET per second of the concurrent scenario's load."), 6, 8),
        (row("eviction: memory pressure and LRU"), 24, 1),
        (measurement_panel("Latency under eviction p99", "eviction_latency_seconds",
                           "SETs and GETs sent while the node was evicting.",
                           sla="eviction_latency_seconds"), 6, 8),
        (measurement_panel("Hot set survival", "hot_set_survival_ratio",
                           "Hot keys still present after the pressure.",
                           sla="hot_set_survival_ratio"), 6, 8),
        (measurement_panel("Eviction efficiency", "eviction_efficiency_ratio",
                           "Share of hot-key evictions a blind policy would have made and this "
                           "one avoided.", sla="eviction_efficiency_ratio"), 6, 8),
        (measurement_panel("Hit rate recovery", "hit_rate_recovery_ratio",
                           "Hot-set hit rate after the re-warm / before the pressure.",
                           sla="hit_rate_recovery_ratio"), 6, 8),
        (measurement_panel("Keys evicted per run", "evicted_keys_total",
                           "Growth of INFO evicted_keys over the run (anyone's keys)."), 24, 6),
        (row("warming: strategies (subject = strategy)"), 24, 1),
        (measurement_panel("Time to warm", "warm_time_seconds",
                           "Time to write the warm_keys keys.", sla="warm_time_seconds"), 6, 8),
        (measurement_panel("Hit rate after warming", "hit_rate_ratio",
                           "Replayed reads that hit.", sla="hit_rate_ratio"), 6, 8),
        (measurement_panel("Warming efficiency", "warming_efficiency_ratio",
                           "Warmed keys read at least once in the replay.",
                           sla="warming_efficiency_ratio"), 6, 8),
        (measurement_panel("Cold vs warm read", ["cold_read_seconds", "warm_read_seconds"],
                           "Median cold read (cache miss and source fetch) and warm read."),
         6, 8),
        (row("collision: cross-tenant writes and hashed-key collisions"), 24, 1),
        (measurement_panel("Collision detection", "collision_detection_seconds",
                           "Worst time from an intrusion to its rejection.",
                           sla="collision_detection_seconds"), 6, 8),
        (measurement_panel("Collision resolution", "collision_resolution_ratio",
                           "Intrusions rejected / intrusions.", sla="collision_resolution_ratio"),
         6, 8),
        (measurement_panel("Value integrity", "value_integrity_ratio",
                           "Keys holding their owner's last value intact.",
                           sla="value_integrity_ratio"), 6, 8),
        (measurement_panel("Collisions detected per run", "collisions_total",
                           "Intrusions detected."), 6, 8),
        (row("serialization: codecs vs raw bytes (subject = format/size)"), 24, 1),
        (measurement_panel("Codec overhead", "codec_overhead_ratio",
                           "Encode + decode time / the raw round trips of the same bytes.",
                           sla="codec_overhead_ratio"), 8, 8),
        (measurement_panel("Throughput", "throughput_per_second",
                           "Operations per second per format and size.",
                           sla="throughput_per_second"), 8, 8),
        (measurement_panel("Round trip p99", "roundtrip_p99_seconds",
                           "Batch start to this operation's value decoded.",
                           sla="roundtrip_p99_seconds"), 8, 8),
        (measurement_panel("Round-trip integrity", "roundtrip_integrity_ratio",
                           "Values that came back equal to what was written.",
                           sla="roundtrip_integrity_ratio"), 12, 7),
        (measurement_panel("Encoded size", "encoded_bytes",
                           "Mean value size per format and size."), 12, 7),
    ]
    return dashboard(
        "redis-chaosd-cache", "redis-chaosd / Cache behaviour",
        "Cache probes: invalidation cascades, eviction under memory pressure, warming "
        "strategies, key collisions across tenants, serialization codecs.",
        [INSTANCE, TARGET, probe_variable(types)], items)


def cluster_durability():
    types = ["reshard", "durability"]
    items = [
        (probe_runs_panel(types), 24, 5),
        (row("reshard: a slot moved while writes go on"), 24, 1),
        (measurement_panel("Longest unavailability", "unavailability_seconds",
                           "Longest time without a successful operation during the move.",
                           sla="unavailability_seconds"), 6, 8),
        (measurement_panel("Acked writes readable", "acked_readable_ratio",
                           "Acknowledged writes that read back after the move.",
                           sla="acked_readable_ratio"), 6, 8),
        (measurement_panel("Throughput degradation", "throughput_degradation_ratio",
                           "1 - ops/s during the move / baseline ops/s.",
                           sla="throughput_degradation_ratio"), 6, 8),
        (measurement_panel("Slot moves per run", "slots_moved_total",
                           "Moves made (2: out and back), or owner changes seen."), 6, 8),
        (row("durability: lost and phantom writes (subject = replica)"), 24, 1),
        (measurement_panel("Lost writes", "lost_writes_total",
                           "Acknowledged writes missing at read-back (must be 0).",
                           sla="lost_writes_total"), 8, 8),
        (measurement_panel("Lost write ratio", "lost_write_ratio",
                           "Lost writes / acknowledged writes."), 8, 8),
        (measurement_panel("Phantom writes", "phantom_writes_total",
                           "Unacknowledged writes present at read-back."), 8, 8),
        (measurement_panel("Writes per run", ["acked_writes_total", "unacked_writes_total"],
                           "Writes acknowledged with +OK, and sent without one."), 24, 7),
    ]
    return dashboard(
        "redis-chaosd-cluster-durability", "redis-chaosd / Resharding and durability",
        "The reshard probe (availability, acknowledged writes and throughput while a cluster "
        "slot moves) and the durability probe (lost and phantom writes, per replica).",
        [INSTANCE, TARGET, probe_variable(types)], items)


# --- chaos ----------------------------------------------------------------------------------------


def chaos():
    fault_sel = 'instance=~"$instance", fault=~"$fault"'
    items = [
        (row("Now"), 24, 1),
        (stat("Chaos enabled / halted", [
            target('redis_chaosd_chaos_enabled{instance=~"$instance"}', "enabled", instant=True),
            target('redis_chaosd_chaos_halted{instance=~"$instance"}', "halted", instant=True)],
              mappings=value_map([(0, "no", "blue"), (1, "yes", "purple")]),
              description="Halted: POST /api/v1/chaos/halt, the dead-man switch or shutdown; "
                          "no fault is injected until resumed."), 6, 4),
        (stat("Active faults", [target(
            f"sum(redis_chaosd_chaos_fault_active{{{SEL}, fault=~\"$fault\"}}) or vector(0)",
            "active", instant=True)], steps=[(None, "green"), (1, "red")]), 4, 4),
        (stat("Failed injections / reverts since start", [
            target(f'sum(redis_chaosd_chaos_injections_total{{{fault_sel}, result="failure"}})',
                   "injections", instant=True),
            target(f'sum(redis_chaosd_chaos_reverts_total{{{fault_sel}, result="failure"}})',
                   "reverts", instant=True)],
              steps=[(None, "green"), (1, "red")], text_mode="value_and_name",
              description="A failed revert leaves a fault behind: it is retried; see "
                          "RedisChaosdFaultStuck."), 6, 4),
        (stat("Experiment runs since start", [target(
            'sum by (outcome) (redis_chaosd_experiment_runs_total{instance=~"$instance"})',
            "{{outcome}}", instant=True)], text_mode="value_and_name",
              description="Counters since the daemon started, by outcome."), 8, 4),
        (row("Faults"), 24, 1),
        (state_timeline("Faults (active / reverted)", [target(
            f'redis_chaosd_chaos_fault_active{{{SEL}, fault=~"$fault"}}',
            "{{fault}} on {{target}} ({{experiment}})")], FAULT_STATE,
            "redis_chaosd_chaos_fault_active: a series appears with the first fault of its "
            "fault type, target and experiment, and stays at 0 after the revert."), 24, 6),
        (timeseries("Injections", [target(
            f"sum by (fault, result) (increase(redis_chaosd_chaos_injections_total{{{fault_sel}}}"
            "[$__rate_interval])) > 0", "{{fault}} {{result}}")], bars=True,
            description="Injections per interval; result failure: the fault failed and was "
                        "reverted."), 12, 8),
        (timeseries("Reverts", [target(
            f"sum by (fault, result) (increase(redis_chaosd_chaos_reverts_total{{{fault_sel}}}"
            "[$__rate_interval])) > 0", "{{fault}} {{result}}")], bars=True,
            description="Reverts per interval, including the reconcile at start; every failed "
                        "retry counts."), 12, 8),
        (row("Experiments"), 24, 1),
        (timeseries("Experiment runs by outcome", [target(
            "sum by (experiment, outcome) (increase(redis_chaosd_experiment_runs_total"
            '{instance=~"$instance"}[$__rate_interval]))', "{{experiment}} {{outcome}}")],
            bars=True, description="succeeded, aborted (an abort_on SLA breached) or failed. "
                                   "A run counts when it finishes (after its SLA recovery "
                                   "wait)."), 12, 8),
        (table("Experiment runs since start", [target(
            'sum by (experiment, outcome) (redis_chaosd_experiment_runs_total'
            '{instance=~"$instance"})', instant=True, fmt="table")], {"Value": "runs"}), 12, 8),
        (row("What the faults did"), 24, 1),
        (state_timeline("Targets up", [target(f"redis_chaosd_target_up{{{SEL}}}", "{{target}}")],
                        UP_DOWN), 12, 7),
        (timeseries("SLAs breached", [target(f"count({SLAS} == 0) or vector(0)", "breached")],
                    steps=[(None, "green"), (1, "red")],
                    description="Count of SLAs not met; compare with the fault annotations."),
         6, 7),
        (state_timeline("Chaos halted", [target('redis_chaosd_chaos_halted{instance=~"$instance"}',
                                                "{{instance}}")],
                        value_map([(0, "running", "green"), (1, "HALTED", "purple")])), 6, 7),
    ]
    return dashboard(
        "redis-chaosd-chaos", "redis-chaosd / Chaos",
        "Chaos engine: faults active, injections and reverts, experiment runs by outcome, "
        "halts, and what the faults did to targets and SLAs.",
        [INSTANCE, TARGET, FAULT], items)


DASHBOARDS = {
    "overview.json": overview,
    "latency-ttl-replication.json": latency_ttl_replication,
    "locks-stampede.json": locks_stampede,
    "cache.json": cache,
    "cluster-durability.json": cluster_durability,
    "chaos.json": chaos,
}


def render():
    """{file name: JSON text} of every dashboard."""
    return {name: json.dumps(build(), indent=2, sort_keys=False) + "\n"
            for name, build in DASHBOARDS.items()}


def main(argv):
    rendered = render()
    if "--check" in argv:
        stale = []
        for name, text in rendered.items():
            path = os.path.join(OUT, name)
            if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
                stale.append(name)
        extra = sorted(set(n for n in os.listdir(OUT) if n.endswith(".json")) - set(rendered))
        for name in stale:
            print(f"grafana/dashboards/{name} differs from grafana/generate.py: "
                  "run python3 grafana/generate.py")
        for name in extra:
            print(f"grafana/dashboards/{name} is not generated by grafana/generate.py")
        return 1 if stale or extra else 0
    os.makedirs(OUT, exist_ok=True)
    for name, text in rendered.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"wrote {len(rendered)} dashboards to grafana/dashboards/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
