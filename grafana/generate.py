#!/usr/bin/env python3
"""Generates the Grafana dashboards of grafana/dashboards/ (python3 standard library only).

  python3 grafana/generate.py           write grafana/dashboards/*.json
  python3 grafana/generate.py --check   exit 1 if a committed file differs from what this writes

This file holds the overview and chaos dashboards, probe_dashboards.py the probe families,
builders.py the building blocks (variables, panels, layout). The ctest deploy.grafana runs the
check, so edit these files, not the JSON, and run this again. Metric names come from
docs/metrics.md, measurement names from docs/probes*.md; the e2e test e2e.Grafana.* runs every
query against a real Prometheus scraping the lab.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from builders import *  # noqa: E402,F401,F403 (the building blocks; a generator, not a library)
from probe_dashboards import (cache, cluster_durability, latency_ttl_replication,  # noqa: E402
                              locks_stampede)


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
            target(sla_joined('redis_chaosd_sla_impact_weight{instance=~"$instance"}'),
                   instant=True, fmt="table"),
        ], {"Value #A": "met", "Value #B": "objective", "Value #C": "compliance 5m",
            "Value #D": "compliance 1h", "Value #E": "compliance 1d", "Value #F": "compliance 30d",
            "Value #G": "error budget left", "Value #H": "burn rate 1h",
            "Value #I": "impact weight"},
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
            description="Measurements that missed their SLA's threshold."), 12, 7),
        (timeseries("Bad SLA events per second while a fault was active", [target(
            f'sum by (sla) (rate(redis_chaosd_sla_fault_events_total{{instance=~"$instance", '
            f'result="bad"}}[$__rate_interval]) and on (job, instance, sla) {SLAS})',
            "{{sla}}")], unit="short",
            description="redis_chaosd_sla_fault_events_total: the bad events judged while a fault "
                        "was active on the SLA's target (clean = all - these): what the faults "
                        "cost, against the baseline."), 12, 7),
        (table("Impact at stake (weight x breached; breaches first)", [
            target(f'sort_desc(redis_chaosd_sla_impact_weight{{instance=~"$instance"}} * on '
                   f"(job, instance, sla) group_left (probe, target, measurement) (1 - {SLAS}))",
                   instant=True, fmt="table")],
            {"Value": "weight at stake"},
            description="redis_chaosd_sla_impact_weight (the SLA's impact_weight; default: the "
                        "spec's USD MRR at risk per probe family) times 1 - sla_met: breached "
                        "SLAs carry their weight, met ones 0.",
            overrides=[{"matcher": {"id": "byRegexp", "options": "^(job|__name__)$"},
                        "properties": [{"id": "custom.hidden", "value": True}]}]), 24, 7),
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
