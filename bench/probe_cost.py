#!/usr/bin/python3
"""What each probe of the lab's schedule costs: Redis commands and CPU time per run, and what that
adds up to at its interval. The daemon's CPU at the schedule is about the sum (plus the target
checks, /metrics and the status snapshot), so this table says which probe to run less often.

    bench/probe_cost.py --binary build-bench/redis-chaosd [--smoke]

It runs `redis-chaosd --once` on config/lab.toml (own state_dir and port): the lab starts, every
probe runs once, one after the other, and the report (--report) carries each run's CPU time of the
whole process (CLOCK_PROCESS_CPUTIME_ID: the loop, a probe's codec thread, the proxy threads) and
the commands its Redis clients sent (daemon/once.cpp). A first run of a probe also opens its
connections; the daemon reuses them, so a scheduled run costs at most this.

Prints a Markdown table on stdout; exits 1 when something could not be measured.
Debian python3 only (no pip).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

from daemon_load import ROOT, free_port, lab_config, loadavg

SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds_of(text):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text)
    if not m:
        raise SystemExit(f"probe_cost: cannot read the interval {text!r}")
    return float(m.group(1)) * SECONDS[m.group(2)]


def smoke_config(text):
    """The lab with its standalone topology and its first probe only: a few seconds."""
    head = text.split("[[probes]]", 1)[0]
    head = re.sub(r"(?m)^topologies = .*$", 'topologies = ["standalone"]', head)
    head = re.sub(r"(?ms)^\[\[experiments\]\].*?(?=^\[\[|\Z)", "", head)
    return head + '[[probes]]\nname = "standalone-latency"\ntype = "latency"\n' \
                  'target = "standalone"\ninterval = "1s"\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--smoke", action="store_true", help="one probe: checks it all works")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chaosd-bench-cost-") as state:
        text = lab_config(state, free_port())
        if args.smoke:
            text = smoke_config(text)
        config_path = os.path.join(state, "lab.toml")
        report_path = os.path.join(state, "report.json")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(text)
        load_before = loadavg()
        done = subprocess.run([args.binary, "--config", config_path, "--once", "--report",
                               report_path], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=600, check=False)
        if done.returncode not in (0, 1) or not os.path.exists(report_path):
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit(f"probe_cost: redis-chaosd --once exited {done.returncode}")
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
        load_after = loadavg()

    intervals = {p["name"]: seconds_of(p.get("interval", "10s"))
                 for p in tomllib.loads(text)["probes"]}
    print("### Cost of each probe at the lab's schedule\n")
    print(f"(`redis-chaosd --once` on config/lab.toml: every probe once, one after the other; "
          f"load average {load_before} -> {load_after})\n")
    print("| probe | type | interval | commands per run | CPU ms per run | commands/s | "
          "CPU % of a core |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for run in report["probes"]:
        if "cpu_seconds" not in run or "redis_commands" not in run:
            raise SystemExit(f"probe_cost: the report has no cost for {run['name']}")
        interval = intervals[run["name"]]
        rows.append((run["redis_commands"] / interval, run["cpu_seconds"] / interval, run,
                     interval))
    rows.sort(key=lambda r: -r[1])
    total_rate = total_cpu = 0.0
    for rate, cpu, run, interval in rows:
        total_rate += rate
        total_cpu += cpu
        print(f"| {run['name']} | {run['type']} | {interval:g} s | {run['redis_commands']} | "
              f"{run['cpu_seconds'] * 1000:.1f} | {rate:.0f} | {cpu * 100:.2f} |")
    print(f"| **all probes** | | | | | **{total_rate:.0f}** | **{total_cpu * 100:.2f}** |")
    failed = [run["name"] for _, _, run, _ in rows if not run["ok"]]
    if failed:
        print(f"\nRuns that failed (their cost is still counted): {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
