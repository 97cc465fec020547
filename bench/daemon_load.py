#!/usr/bin/python3
"""The daemon at the lab's default schedule (DESIGN §10): CPU and RSS of redis-chaosd, the
scheduler's start jitter, and the time to scrape /metrics from the running daemon.

    bench/daemon_load.py --binary build-bench/redis-chaosd [--seconds 600] [--warmup 15] [--smoke]

It runs config/lab.toml (what `redis-chaosd --lab` runs) with its own state_dir and a free port,
at --log-level debug: every successful scheduled run then logs "started <s>s after its slot"
(daemon/probe_runner.cpp measures it when the timer wakes), which gives the jitter. CPU is
utime+stime of the daemon process only (/proc/<pid>/stat) over the window, not of the lab's
redis-server children (reported apart, for context). RSS is VmRSS sampled every second.

Prints Markdown tables on stdout; exits 1 when something could not be measured.
Debian python3 only (no pip).
"""

import argparse
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JITTER = re.compile(r"probe (\S+) ok in [0-9.]+s, started (-?[0-9.]+)s after its slot")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def lab_config(state_dir, port):
    """config/lab.toml with its own state_dir and listen address (nothing else changed)."""
    with open(os.path.join(ROOT, "config", "lab.toml"), encoding="utf-8") as f:
        text = f.read()
    text, n1 = re.subn(r'(?m)^state_dir = .*$', f'state_dir = "{state_dir}"', text)
    text, n2 = re.subn(r'(?m)^listen = .*$', f'listen = "127.0.0.1:{port}"', text)
    if n1 != 1 or n2 != 1:
        raise SystemExit("daemon_load: config/lab.toml has no [daemon] state_dir/listen line")
    return text


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def status_field(pid, name):
    """A field of /proc/<pid>/status as an int (kB for memory fields), 0 when absent."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return status_field(pid, "VmRSS")


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except OSError:
            continue
    return out


def children_ticks(pids):
    total = 0
    for p in pids:
        try:
            total += cpu_ticks(p)
        except OSError:
            pass
    return total


def loadavg():
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


def quantile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    rank = max(1, min(len(values), math.ceil(q * len(values))))
    return values[rank - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: checks it all works")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.warmup, args.scrapes = 3, 2, 3

    tick = os.sysconf("SC_CLK_TCK")
    failures = []
    with tempfile.TemporaryDirectory(prefix="chaosd-bench-") as tmp:
        port = free_port()
        config = os.path.join(tmp, "lab.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(lab_config(os.path.join(tmp, "state"), port))
        log_path = os.path.join(tmp, "daemon.log")
        env = dict(os.environ, REDIS_CHAOSD_TOKEN=secrets.token_hex(16))
        with open(log_path, "w", encoding="utf-8") as log:
            daemon = subprocess.Popen(
                [args.binary, "--config", config, "--log-level", "debug"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            ready = False
            while time.monotonic() < deadline and daemon.poll() is None:
                try:
                    if http_get(port, "/readyz", 1)[0] == 200:
                        ready = True
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            if not ready:
                raise SystemExit(f"daemon_load: the daemon was not ready in 60 s; log:\n"
                                 + open(log_path, encoding="utf-8").read()[-3000:])
            time.sleep(args.warmup)

            pid = daemon.pid
            kids = children(pid)
            load_before = loadavg()
            log_offset = os.path.getsize(log_path)
            t0, c0, k0 = time.monotonic(), cpu_ticks(pid), children_ticks(kids)
            rss = []
            end = t0 + args.seconds
            while time.monotonic() < end and daemon.poll() is None:
                rss.append(rss_kib(pid))
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            t1, c1, k1 = time.monotonic(), cpu_ticks(pid), children_ticks(kids)
            load_after = loadavg()
            rss.append(rss_kib(pid))
            rss_parts = {k: status_field(pid, k) for k in ("RssAnon", "RssFile", "Threads")}

            scrape_ms, series, size = [], 0, 0
            for _ in range(args.scrapes):
                s0 = time.monotonic()
                status, body = http_get(port, "/metrics")
                scrape_ms.append((time.monotonic() - s0) * 1000)
                if status != 200:
                    failures.append(f"/metrics answered {status}")
                    break
                size = len(body)
                series = sum(1 for line in body.decode().splitlines()
                             if line and not line.startswith("#"))
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()

        with open(log_path, encoding="utf-8", errors="replace") as f:
            f.seek(log_offset)
            window_log = f.read()
        delays_ms = [float(m.group(2)) * 1000 for m in JITTER.finditer(window_log)]
        probes = {m.group(1) for m in JITTER.finditer(window_log)}
        failed_runs = window_log.count("] [warning] probe ")

    seconds = t1 - t0
    cpu_pct = (c1 - c0) / tick / seconds * 100
    kids_pct = (k1 - k0) / tick / seconds * 100
    rss_max_mib = max(rss) / 1024
    print(f"\n### Daemon at the lab's default schedule ({seconds:.0f} s window after "
          f"{args.warmup:.0f} s warm-up; load average {load_before} -> {load_after})\n")
    print("| measurement | value | goal | met |")
    print("| --- | --- | --- | --- |")
    print(f"| daemon CPU (utime+stime / wall, one core = 100%) | {cpu_pct:.2f}% | < 2% | "
          f"{'yes' if cpu_pct < 2 else '**no**'} |")
    print(f"| daemon RSS max / last (MiB) | {rss_max_mib:.1f} / {rss[-1] / 1024:.1f} | < 30 MB | "
          f"{'yes' if rss_max_mib * 1.048576 < 30 else '**no**'} |")
    print(f"| of which anonymous / file-backed (MiB); threads | {rss_parts['RssAnon'] / 1024:.1f} / "
          f"{rss_parts['RssFile'] / 1024:.1f}; {rss_parts['Threads']} | - | - |")
    print(f"| lab redis-servers CPU, {len(kids)} children (context) | {kids_pct:.2f}% | - | - |")
    if delays_ms:
        p50, p99, mx = (quantile(delays_ms, 0.5), quantile(delays_ms, 0.99), max(delays_ms))
        print(f"| scheduler start jitter p50 / p99 / max (ms), {len(delays_ms)} scheduled runs of "
              f"{len(probes)} probes | {p50:.3f} / {p99:.3f} / {mx:.3f} | p99 < 1 ms | "
              f"{'yes' if p99 < 1 else '**no**'} |")
    else:
        failures.append("no 'started ... after its slot' line in the daemon log")
    if scrape_ms:
        p50, p99 = quantile(scrape_ms, 0.5), quantile(scrape_ms, 0.99)
        print(f"| GET /metrics, {series} series, {size} bytes: p50 / p99 (ms), "
              f"{len(scrape_ms)} scrapes | {p50:.2f} / {p99:.2f} | < 10 ms | "
              f"{'yes' if p99 < 10 else '**no**'} |")
    print(f"| failed probe runs in the window (warning lines) | {failed_runs} | - | - |")
    sys.stdout.flush()
    if failures:
        print("daemon_load: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
