"""Building blocks of the dashboards (variables, panels, layout), used by grafana/generate.py."""

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
