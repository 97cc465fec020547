#!/usr/bin/env python3
"""Static checks of deploy/ (ctest deploy.*): every check fails with a message naming the file
and what is wrong. Exit 0 pass, 1 fail, 77 skipped (a tool this machine lacks; ctest shows it as
skipped with the printed reason).

  check_deploy.py yaml                      every .yml/.yaml under deploy/ and grafana/ parses
  check_deploy.py alerts                    alert names, labels, annotations, runbook sections
  check_deploy.py prometheusrule [--write]  deploy/k8s/prometheusrule.yaml == the rule files
  check_deploy.py k8s BINARY                manifests reference each other; the config is valid
  check_deploy.py compose BINARY            mounted files exist; the config is valid
  check_deploy.py dockerfile BINARY         the runtime stage installs every library ldd lists
  check_deploy.py systemd BINARY            systemd-analyze verify and security of the unit
  check_deploy.py alertmanager              amtool check-config and the routes of each severity
  check_deploy.py grafana                   dashboards == grafana/generate.py, their structure,
                                            metric and measurement names; provisioning files
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
SKIP = 77

try:
    import yaml
except ImportError:  # python3-yaml (Debian), installed by scripts/setup
    yaml = None

problems = []


def fail(message):
    problems.append(message)


def rel(path):
    return os.path.relpath(path, ROOT)


def need_yaml():
    if yaml is None:
        print("SKIPPED: python3-yaml is not installed (scripts/setup installs it)")
        sys.exit(SKIP)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_one(path):
    docs = load_all(path)
    if len(docs) != 1:
        fail(f"{rel(path)}: expected one YAML document, found {len(docs)}")
        return {}
    return docs[0]


def check_config(binary, toml_text, name):
    """redis-chaosd --check-config on a config; password_env variables get a dummy value."""
    with tempfile.TemporaryDirectory(prefix="chaosd-deploy-") as tmp:
        path = os.path.join(tmp, "redis-chaosd.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(toml_text)
        env = dict(os.environ)
        for var in re.findall(r'password_env\s*=\s*"([^"]+)"', toml_text):
            env.setdefault(var, "dummy")
        done = subprocess.run([binary, "--check-config", "--config", path], env=env,
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            fail(f"{name}: redis-chaosd --check-config exited {done.returncode}:\n"
                 f"{done.stdout}{done.stderr}")


def toml_listen_port(toml_text):
    match = re.search(r'^\s*listen\s*=\s*"[^"]*:(\d+)"', toml_text, re.M)
    return int(match.group(1)) if match else 9490


# --- yaml -----------------------------------------------------------------------------------------

def cmd_yaml():
    need_yaml()
    count = 0
    for top in (DEPLOY, os.path.join(ROOT, "grafana")):
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if name.endswith((".yml", ".yaml")):
                    path = os.path.join(dirpath, name)
                    try:
                        load_all(path)
                        count += 1
                    except yaml.YAMLError as e:
                        fail(f"{rel(path)}: {e}")
    if count < 10:
        fail(f"only {count} YAML files found under deploy/ and grafana/")
    print(f"{count} YAML files parsed")


# --- alerts ---------------------------------------------------------------------------------------

def rule_groups():
    groups = []
    for name in ("redis-chaosd.rules.yml", "redis-chaosd.alerts.yml"):
        groups += load_one(os.path.join(DEPLOY, "prometheus", name)).get("groups", [])
    return groups


def github_anchor(heading):
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def cmd_alerts():
    need_yaml()
    with open(os.path.join(ROOT, "docs", "runbooks.md"), encoding="utf-8") as f:
        runbook = f.read()
    sections = {github_anchor(h): h for h in re.findall(r"^## (.+)$", runbook, re.M)}
    names = set()
    for group in rule_groups():
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            name = rule["alert"]
            names.add(name)
            where = f"alert {name} (group {group['name']})"
            if not re.fullmatch(r"RedisChaosd[A-Z][A-Za-z0-9]*", name):
                fail(f"{where}: not a CamelCase RedisChaosd* name")
            severity = rule.get("labels", {}).get("severity")
            if severity not in ("page", "ticket"):
                fail(f"{where}: severity label is {severity!r}, want page or ticket")
            annotations = rule.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not str(annotations.get(key, "")).strip():
                    fail(f"{where}: missing annotation {key}")
            url = annotations.get("runbook_url", "")
            match = re.search(r"/docs/runbooks\.md#([\w-]+)$", url)
            if not match:
                fail(f"{where}: runbook_url {url!r} does not point into docs/runbooks.md#<anchor>")
            elif match.group(1) not in sections:
                fail(f"{where}: docs/runbooks.md has no section for anchor #{match.group(1)}")
            elif match.group(1) != name.lower():
                fail(f"{where}: runbook anchor #{match.group(1)} is not the alert name")
    for required in ("RedisChaosdSlaErrorBudgetBurn", "RedisChaosdTargetDown",
                     "RedisChaosdProbeFailing", "RedisChaosdFaultStuck", "RedisChaosdHalted"):
        if required not in names:
            fail(f"no alert named {required}")
    for anchor, heading in sections.items():
        if heading.startswith("RedisChaosd") and heading not in names:
            fail(f"docs/runbooks.md: section {heading!r} has no alert")
    print(f"{len(names)} alert names, each with a runbook section")


# --- prometheusrule -------------------------------------------------------------------------------

PROMETHEUSRULE_HEADER = """\
# GENERATED from deploy/prometheus/redis-chaosd.rules.yml and redis-chaosd.alerts.yml by
#   python3 tests/deploy/check_deploy.py prometheusrule --write
# Do not edit by hand: the ctest deploy.prometheusrule fails when it differs from those files.
# For the prometheus-operator (the ServiceMonitor's Prometheus must select this rule's labels).
"""


def prometheusrule_doc():
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "redis-chaosd", "labels": {"app.kubernetes.io/name": "redis-chaosd"}},
        "spec": {"groups": rule_groups()},
    }


def cmd_prometheusrule(write):
    need_yaml()
    path = os.path.join(DEPLOY, "k8s", "prometheusrule.yaml")
    want = prometheusrule_doc()
    if write:
        with open(path, "w", encoding="utf-8") as f:
            f.write(PROMETHEUSRULE_HEADER)
            yaml.safe_dump(want, f, sort_keys=False, width=100, allow_unicode=True)
        print(f"wrote {rel(path)}")
        return
    if not os.path.exists(path):
        fail(f"{rel(path)} is missing: run check_deploy.py prometheusrule --write")
        return
    if load_one(path) != want:
        fail(f"{rel(path)} differs from deploy/prometheus/*.yml: "
             "run python3 tests/deploy/check_deploy.py prometheusrule --write")


# --- k8s ------------------------------------------------------------------------------------------

def cmd_k8s(binary):
    need_yaml()
    k8s = os.path.join(DEPLOY, "k8s")
    kustomization = load_one(os.path.join(k8s, "kustomization.yaml"))
    objects = {}
    for name in kustomization.get("resources", []):
        path = os.path.join(k8s, name)
        if not os.path.exists(path):
            fail(f"deploy/k8s/kustomization.yaml: resource {name} does not exist")
            continue
        for doc in load_all(path):
            objects.setdefault(doc["kind"], []).append(doc)
    listed = set(kustomization.get("resources", []))
    for name in os.listdir(k8s):
        if name.endswith(".yaml") and name != "kustomization.yaml" and name not in listed:
            fail(f"deploy/k8s/{name} is not listed in kustomization.yaml")
    for kind in ("ConfigMap", "Secret", "StatefulSet", "Service", "ServiceMonitor", "PrometheusRule"):
        if kind not in objects:
            fail(f"deploy/k8s: no {kind}")
    if problems:
        return

    config_maps = {o["metadata"]["name"]: o for o in objects["ConfigMap"]}
    secrets = {o["metadata"]["name"]: o for o in objects["Secret"]}
    workload = objects["StatefulSet"][0]
    pod = workload["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    if any(pod_labels.get(k) != v for k, v in workload["spec"]["selector"]["matchLabels"].items()):
        fail("StatefulSet selector does not match its Pod template labels")
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    if set(containers) != {"redis", "redis-chaosd"}:
        fail(f"the Pod must hold the containers redis and redis-chaosd, has {sorted(containers)}")
        return
    chaosd = containers["redis-chaosd"]
    ports = {p["name"]: p["containerPort"] for p in chaosd.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = chaosd.get(probe, {}).get("httpGet", {})
        if get.get("path") != path:
            fail(f"redis-chaosd {probe} must GET {path}, has {get.get('path')}")
        if get.get("port") not in ports and get.get("port") not in ports.values():
            fail(f"redis-chaosd {probe} port {get.get('port')} is not a container port")
    security = chaosd.get("securityContext", {})
    for key, want in (("runAsNonRoot", True), ("allowPrivilegeEscalation", False),
                      ("readOnlyRootFilesystem", True)):
        if security.get(key) != want:
            fail(f"redis-chaosd securityContext.{key} must be {want}")

    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m for m in chaosd.get("volumeMounts", [])}
    for name in mounts:
        if name not in volumes:
            fail(f"redis-chaosd mounts volume {name}, which the Pod does not define")
    config_volume = next((v for v in volumes.values() if "configMap" in v), None)
    secret_volume = next((v for v in volumes.values() if "secret" in v), None)
    if not config_volume or config_volume["configMap"]["name"] not in config_maps:
        fail("the Pod has no volume from the redis-chaosd ConfigMap")
        return
    if not secret_volume or secret_volume["secret"]["secretName"] not in secrets:
        fail("the Pod has no volume from the chaos token Secret")
    if secret_volume and not mounts.get(secret_volume["name"], {}).get("readOnly"):
        fail("the chaos token Secret must be mounted readOnly")

    config_mount = mounts.get(config_volume["name"], {}).get("mountPath", "")
    data = config_maps[config_volume["configMap"]["name"]]["data"]
    args = chaosd.get("args", [])
    config_arg = args[args.index("--config") + 1] if "--config" in args else ""
    if os.path.dirname(config_arg) != config_mount or os.path.basename(config_arg) not in data:
        fail(f"--config {config_arg} is not a key of the ConfigMap mounted at {config_mount}")
        return
    toml_text = data[os.path.basename(config_arg)]
    check_config(binary, toml_text, "deploy/k8s/configmap.yaml:" + os.path.basename(config_arg))
    if toml_listen_port(toml_text) not in ports.values():
        fail(f"the config listens on {toml_listen_port(toml_text)}, not a container port {ports}")
    if '"127.0.0.1:' in re.search(r'^\s*listen\s*=.*$', toml_text, re.M).group(0):
        fail("the sidecar listens on 127.0.0.1 only: the kubelet and Prometheus cannot reach it")
    state = re.search(r'^\s*state_dir\s*=\s*"([^"]+)"', toml_text, re.M)
    mount_paths = [m["mountPath"] for m in mounts.values()]
    if not state or state.group(1) not in mount_paths:
        fail("state_dir must be set and be a mounted (writable) volume: the root fs is read-only")
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    shutdown = re.search(r'^\s*shutdown_timeout\s*=\s*"(\d+)s"', toml_text, re.M)
    if shutdown and int(shutdown.group(1)) >= grace:
        fail(f"shutdown_timeout {shutdown.group(1)}s must stay below the grace period {grace}s")

    services = {o["metadata"]["name"]: o for o in objects["Service"]}
    service = services.get("redis-chaosd")
    if not service:
        fail("no Service named redis-chaosd")
        return
    if any(pod_labels.get(k) != v for k, v in service["spec"]["selector"].items()):
        fail("Service redis-chaosd does not select the Pod")
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    for p in service_ports.values():
        if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
            fail(f"Service redis-chaosd targetPort {p.get('targetPort')} is not a container port")
    if workload["spec"].get("serviceName") not in services:
        fail("StatefulSet serviceName is not a Service of deploy/k8s")

    monitor = objects["ServiceMonitor"][0]
    selector = monitor["spec"]["selector"]["matchLabels"]
    if any(service["metadata"]["labels"].get(k) != v for k, v in selector.items()):
        fail("the ServiceMonitor does not select the redis-chaosd Service")
    for endpoint in monitor["spec"]["endpoints"]:
        if endpoint.get("port") not in service_ports:
            fail(f"ServiceMonitor endpoint port {endpoint.get('port')} is not a Service port name")
        if endpoint.get("path", "/metrics") != "/metrics":
            fail("ServiceMonitor path must be /metrics")
    job = service["metadata"]["labels"].get(monitor["spec"].get("jobLabel", ""), "redis-chaosd")
    if job != "redis-chaosd":
        fail(f"the scrape job would be {job!r}; RedisChaosdDown expects job=\"redis-chaosd\"")
    print("deploy/k8s: manifests consistent, config valid")


# --- compose --------------------------------------------------------------------------------------

def cmd_compose(binary):
    need_yaml()
    compose_dir = os.path.join(DEPLOY, "compose")
    compose = load_one(os.path.join(compose_dir, "compose.yaml"))
    services = compose.get("services", {})
    for name in ("redis", "redis-chaosd", "prometheus", "alertmanager", "grafana"):
        if name not in services:
            fail(f"deploy/compose/compose.yaml: no service {name}")
    named_volumes = set((compose.get("volumes") or {}).keys())
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                path = os.path.normpath(os.path.join(compose_dir, source))
                if not os.path.exists(path):
                    fail(f"compose service {name} mounts {source}, which does not exist")
            elif source not in named_volumes:
                fail(f"compose service {name} uses volume {source}, not declared under volumes:")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                fail(f"compose service {name} publishes {port} beyond loopback")
        for dependency in service.get("depends_on", []) or []:
            if dependency not in services:
                fail(f"compose service {name} depends on unknown service {dependency}")
    chaosd = services.get("redis-chaosd", {})
    build = chaosd.get("build", {})
    dockerfile = os.path.normpath(os.path.join(compose_dir, build.get("context", "."),
                                               build.get("dockerfile", "Dockerfile")))
    if not os.path.exists(dockerfile):
        fail(f"compose redis-chaosd builds from {rel(dockerfile)}, which does not exist")
    config_path = os.path.join(compose_dir, "redis-chaosd.toml")
    with open(config_path, encoding="utf-8") as f:
        check_config(binary, f.read(), "deploy/compose/redis-chaosd.toml")
    with open(os.path.join(ROOT, "config", "examples", "minimal.toml"), encoding="utf-8") as f:
        check_config(binary, f.read(), "config/examples/minimal.toml (the image's default)")
    prometheus = load_one(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))
    targets = [t for job in prometheus.get("scrape_configs", [])
               if job.get("job_name") == "redis-chaosd"
               for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
    if not any(t.split(":")[0] in services for t in targets):
        fail("deploy/prometheus/prometheus.yml does not scrape the compose redis-chaosd service")
    check_compose_grafana(compose_dir, services.get("grafana", {}))
    print("deploy/compose: services, mounts and config consistent")


def check_compose_grafana(compose_dir, grafana):
    """Grafana mounts the repository's grafana/provisioning and grafana/dashboards where the
    provisioning files expect them, and gets the variables they read."""
    mounts = {}
    for volume in grafana.get("volumes", []):
        parts = volume.split(":")
        if parts[0].startswith((".", "/")):
            mounts[os.path.normpath(os.path.join(compose_dir, parts[0]))] = parts[1]
    provisioning = os.path.join(GRAFANA, "provisioning")
    if mounts.get(provisioning) != "/etc/grafana/provisioning":
        fail("compose grafana must mount ../../grafana/provisioning at /etc/grafana/provisioning")
    for path in provider_paths():
        if mounts.get(os.path.join(GRAFANA, "dashboards")) != path:
            fail(f"compose grafana must mount ../../grafana/dashboards at {path} (the path of "
                 "grafana/provisioning/dashboards/)")
    environment = grafana.get("environment", {}) or {}
    for variable in provisioning_variables():
        if variable not in environment:
            fail(f"compose grafana does not set {variable}, which grafana/provisioning/ reads")


# --- dockerfile -----------------------------------------------------------------------------------

BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}  # in debian:bookworm-slim


def cmd_dockerfile(binary):
    if not shutil.which("ldd") or not shutil.which("dpkg-query"):
        print("SKIPPED: ldd or dpkg-query not found")
        sys.exit(SKIP)
    with open(os.path.join(DEPLOY, "Dockerfile"), encoding="utf-8") as f:
        text = f.read()
    stages = re.split(r"^FROM ", text, flags=re.M)
    runtime = next((s for s in stages if re.match(r"\S+ AS runtime", s)), "")
    if not runtime:
        fail("deploy/Dockerfile: no stage named runtime")
        return
    joined = runtime.replace("\\\n", " ")
    install = re.search(r"apt-get install[^\n]*", joined)
    listed = set(re.findall(r"\b(lib[\w.+-]+|zlib1g|curl)\b", install.group(0) if install else ""))
    if not re.search(r"^USER\s+(?!0\b|root\b)\S+", runtime, re.M):
        fail("deploy/Dockerfile: the runtime stage does not switch to a non-root USER")
    if not re.search(r"^HEALTHCHECK .*\n?.*/healthz", runtime, re.M):
        fail("deploy/Dockerfile: no HEALTHCHECK on /healthz")
    done = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30)
    needed = set()
    for path in re.findall(r"=> (/\S+)", done.stdout):
        real = os.path.realpath(path)
        owner = ""
        for candidate in (real, path, "/usr" + path if not path.startswith("/usr") else path):
            q = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
            if q.returncode == 0:
                owner = q.stdout.split(":")[0]
                break
        if not owner:
            fail(f"ldd: {path} belongs to no Debian package")
            continue
        needed.add(owner)
    # A sanitizer build (build-asan/) links the sanitizer runtimes; the image is a normal build.
    needed = {p for p in needed if not re.fullmatch(r"lib(a|ub|t|l|hwa)san\d*", p)}
    missing = sorted(needed - listed - BASE_IMAGE_PACKAGES)
    if missing:
        fail(f"deploy/Dockerfile runtime stage does not install {missing} (ldd {rel(binary)})")
    print(f"runtime packages needed by ldd: {sorted(needed)}")


# --- systemd --------------------------------------------------------------------------------------

def cmd_systemd(binary):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIPPED: systemd-analyze not found; deploy/systemd/redis-chaosd.service not verified")
        sys.exit(SKIP)
    unit = os.path.join(DEPLOY, "systemd", "redis-chaosd.service")
    with open(unit, encoding="utf-8") as f:
        text = f.read()
    for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=",
                      "DynamicUser=yes", "ExecReload=", "RestartPreventExitStatus=2"):
        if directive not in text:
            fail(f"{rel(unit)}: missing {directive}")
    with tempfile.TemporaryDirectory(prefix="chaosd-unit-") as tmp:
        # verify wants the executables to exist: point them at the built binary.
        copy = os.path.join(tmp, "redis-chaosd.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text.replace("/usr/local/bin/redis-chaosd", os.path.abspath(binary)))
        for argv in ([analyze, "verify", copy],
                     [analyze, "security", "--offline=yes", "--threshold=20", copy]):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            output = (done.stdout + done.stderr).strip()
            if done.returncode != 0:
                fail(f"{' '.join(argv[1:3])} {rel(unit)} exited {done.returncode}:\n{output}")
            elif argv[1] == "security":
                print(output.splitlines()[-1] if output else "")
    print(f"{rel(unit)}: systemd-analyze verify clean")


# --- alertmanager ---------------------------------------------------------------------------------

def cmd_alertmanager():
    amtool = shutil.which("amtool")
    if not amtool:
        print("SKIPPED: amtool not found (Debian prometheus-alertmanager, installed by scripts/setup)")
        sys.exit(SKIP)
    config = os.path.join(DEPLOY, "alertmanager", "alertmanager.yml")
    done = subprocess.run([amtool, "check-config", config], capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        fail(f"amtool check-config {rel(config)}:\n{done.stdout}{done.stderr}")
        return
    for labels, receiver in ((["alertname=RedisChaosdTargetDown", "severity=page"], "page"),
                             (["alertname=RedisChaosdHalted", "severity=ticket"], "ticket"),
                             (["alertname=Other"], "ticket")):
        done = subprocess.run([amtool, "config", "routes", "test", "--config.file=" + config,
                               *labels], capture_output=True, text=True, timeout=30)
        if done.stdout.strip() != receiver:
            fail(f"{rel(config)}: {' '.join(labels)} routes to {done.stdout.strip()!r}, "
                 f"want {receiver!r} {done.stderr}")
    print(f"{rel(config)}: valid, severities routed")


# --- grafana --------------------------------------------------------------------------------------

GRAFANA = os.path.join(ROOT, "grafana")
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
RANGE_FUNCTIONS = ("rate", "irate", "increase", "delta", "idelta")


def provisioning_files(kind):
    folder = os.path.join(GRAFANA, "provisioning", kind)
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.endswith((".yml", ".yaml"))] if os.path.isdir(folder) else []


def provider_paths():
    return [provider.get("options", {}).get("path")
            for path in provisioning_files("dashboards")
            for provider in (load_one(path).get("providers") or [])]


def provisioning_variables():
    names = set()
    for kind in ("datasources", "dashboards"):
        for path in provisioning_files(kind):
            with open(path, encoding="utf-8") as f:
                text = "".join(line for line in f if not line.lstrip().startswith("#"))
            names.update(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text))
    return sorted(names)


def documented_metric_names():
    """Metric names of docs/metrics.md (with _bucket/_sum/_count for histograms) and the
    recording rules of deploy/prometheus/redis-chaosd.rules.yml."""
    with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as f:
        rows = re.findall(r"^\| `([a-z_:]+)` \| (\w+) \|", f.read(), re.M)
    names = {"up"}
    for name, kind in rows:
        names.add(name)
        if kind == "histogram":
            names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
    for group in load_one(os.path.join(DEPLOY, "prometheus", "redis-chaosd.rules.yml"))["groups"]:
        names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


# Measurements a probe exports that docs/probes*.md does not list yet (e2e.Grafana.* checks that
# they exist): name -> where it comes from.
UNDOCUMENTED_MEASUREMENTS = {
    "replica_expiry_accuracy_ratio": "ttl probe, probes/ttl.cpp (replica reads); not yet in "
                                     "docs/probes.md",
}


def documented_measurements():
    """Measurement names: the backticked first column of the tables in docs/probes*.md."""
    names = set(UNDOCUMENTED_MEASUREMENTS)
    docs = os.path.join(ROOT, "docs")
    for name in os.listdir(docs):
        if name.startswith("probes") and name.endswith(".md"):
            with open(os.path.join(docs, name), encoding="utf-8") as f:
                names.update(re.findall(r"^\| `([a-z0-9_]+)`", f.read(), re.M))
    return names


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def check_expr(where, expr, variables, metrics, measurements):
    for match in re.finditer(r"\$\{?(\w+)\}?", expr):
        name = match.group(1)
        if name in ("__rate_interval",):
            continue
        if name not in variables:
            fail(f"{where}: ${name} is not a variable of the dashboard")
        # "All" sends .* (allValue), a regex: `=` would match nothing and hide behind
        # `or vector(0)`.
        before = expr[:match.start()]
        if not (before.endswith('=~"') and expr[match.end():].startswith('"')):
            fail(f"{where}: use ${name} only as label=~\"${name}\"")
    for match in re.finditer(r"\b(" + "|".join(RANGE_FUNCTIONS) + r")\s*\(", expr):
        depth, i = 1, match.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        ranges = re.findall(r"\[([^\]]*)\]", expr[match.end():i])
        if ranges != ["$__rate_interval"]:
            fail(f"{where}: {match.group(1)}() must use [$__rate_interval], has {ranges}")
    stripped = re.sub(r'"[^"]*"', '""', expr)
    for name in re.findall(r"\b(redis_chaosd_[A-Za-z0-9_:]+|process_[a-z_]+)\b", stripped):
        if name not in metrics:
            fail(f"{where}: metric {name} is not in docs/metrics.md or the recording rules")
    for name in re.findall(r'measurement\s*=~?\s*"([^"]+)"', expr):
        if name not in measurements:
            fail(f"{where}: measurement {name} is not in docs/probes*.md")


def check_dashboard(file, dashboard, metrics, measurements):
    if dashboard.get("schemaVersion") != 39:
        fail(f"{file}: schemaVersion is {dashboard.get('schemaVersion')}, want 39")
    uid = dashboard.get("uid", "")
    if not re.fullmatch(r"redis-chaosd-[a-z0-9-]+", uid) or len(uid) > 40:
        fail(f"{file}: uid {uid!r} is not a stable redis-chaosd-* uid of at most 40 characters")
    if dashboard.get("id") is not None:
        fail(f"{file}: id must be null (Grafana assigns it)")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    datasource = variables.get("datasource", {})
    if datasource.get("type") != "datasource" or datasource.get("query") != "prometheus":
        fail(f"{file}: no template variable datasource of type datasource, query prometheus")
    for name, variable in variables.items():
        if variable.get("type") == "query":
            where = f"{file}: variable ${name}"
            if variable.get("datasource") != DATASOURCE_REF:
                fail(f"{where}: datasource is not ${{datasource}}")
            definition = variable.get("definition", "")
            if variable.get("query") != definition or not definition.startswith("label_values("):
                fail(f"{where}: query must be a label_values(...) equal to its definition")
            check_expr(where, definition, variables, metrics, measurements)
            if variable.get("multi") and variable.get("allValue") != ".*":
                fail(f"{where}: a multi-value variable needs allValue .*")
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            where = f"{file}: annotation {annotation.get('name')!r}"
            if annotation.get("datasource") != DATASOURCE_REF:
                fail(f"{where}: datasource is not ${{datasource}}")
            check_expr(where, annotation["expr"], variables, metrics, measurements)
    if not any("chaos_fault_active" in a.get("expr", "")
               for a in dashboard.get("annotations", {}).get("list", [])):
        fail(f"{file}: no annotation from redis_chaosd_chaos_fault_active")
    ids = set()
    cells = set()
    panels = list(walk_panels(dashboard.get("panels", [])))
    if len(panels) < 5:
        fail(f"{file}: only {len(panels)} panels")
    for panel in panels:
        where = f"{file}: panel {panel.get('title')!r}"
        if panel.get("id") in ids:
            fail(f"{where}: duplicate id {panel.get('id')}")
        ids.add(panel.get("id"))
        if panel.get("datasource") != DATASOURCE_REF:
            fail(f"{where}: datasource is not ${{datasource}}")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")):
            fail(f"{where}: gridPos needs integer h, w, x, y")
            continue
        if grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 24:
            fail(f"{where}: gridPos {grid} is outside the 24 columns")
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        if area & cells:
            fail(f"{where}: overlaps another panel at (column, row) {min(area & cells)}")
        cells |= area
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            fail(f"{file}: panel {panel.get('id')} has no title")
        targets = panel.get("targets", [])
        if not targets:
            fail(f"{where}: no targets")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids):
            fail(f"{where}: duplicate refId in {ref_ids}")
        for t in targets:
            target_where = f"{where} target {t.get('refId')}"
            if t.get("datasource") != DATASOURCE_REF:
                fail(f"{target_where}: datasource is not ${{datasource}}")
            if not t.get("expr", "").strip():
                fail(f"{target_where}: no expr")
                continue
            check_expr(target_where, t["expr"], variables, metrics, measurements)


def cmd_grafana():
    need_yaml()
    sys.dont_write_bytecode = True  # no __pycache__ in grafana/
    spec = importlib.util.spec_from_file_location("generate", os.path.join(GRAFANA, "generate.py"))
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    dashboards_dir = os.path.join(GRAFANA, "dashboards")
    rendered = generate.render()
    files = sorted(n for n in os.listdir(dashboards_dir) if n.endswith(".json"))
    for name in sorted(set(rendered) | set(files)):
        path = os.path.join(dashboards_dir, name)
        if name not in rendered:
            fail(f"grafana/dashboards/{name} is not generated by grafana/generate.py")
        elif not os.path.exists(path):
            fail(f"grafana/dashboards/{name} is missing: run python3 grafana/generate.py")
        else:
            with open(path, encoding="utf-8") as f:
                if f.read() != rendered[name]:
                    fail(f"grafana/dashboards/{name} differs from grafana/generate.py: "
                         "run python3 grafana/generate.py")
    metrics = documented_metric_names()
    measurements = documented_measurements()
    if len(measurements) < 40:
        fail(f"only {len(measurements)} measurement names found in docs/probes*.md")
    uids, titles = {}, {}
    for name in files:
        try:
            with open(os.path.join(dashboards_dir, name), encoding="utf-8") as f:
                dashboard = json.load(f)
        except ValueError as e:
            fail(f"grafana/dashboards/{name}: not JSON: {e}")
            continue
        check_dashboard(f"grafana/dashboards/{name}", dashboard, metrics, measurements)
        for seen, key in ((uids, "uid"), (titles, "title")):
            if dashboard.get(key) in seen:
                fail(f"grafana/dashboards/{name}: {key} {dashboard.get(key)!r} is also used by "
                     f"{seen[dashboard.get(key)]}")
            seen[dashboard.get(key)] = name
    if len(files) < 6:
        fail(f"only {len(files)} dashboards in grafana/dashboards/")

    datasources = [d for path in provisioning_files("datasources")
                   for d in (load_one(path).get("datasources") or [])]
    for path in provisioning_files("datasources") + provisioning_files("dashboards"):
        if load_one(path).get("apiVersion") != 1:
            fail(f"{rel(path)}: apiVersion must be 1")
    if not any(d.get("type") == "prometheus" and d.get("url") and d.get("uid")
               for d in datasources):
        fail("grafana/provisioning/datasources/: no prometheus data source with a uid and url")
    providers = [p for path in provisioning_files("dashboards")
                 for p in (load_one(path).get("providers") or [])]
    if not any(p.get("type") == "file" and p.get("options", {}).get("path") for p in providers):
        fail("grafana/provisioning/dashboards/: no file provider with options.path")
    print(f"grafana: {len(files)} dashboards generated and consistent, "
          f"{len(datasources)} data source(s), {len(providers)} dashboard provider(s)")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    command, args = argv[1], argv[2:]
    if command == "yaml":
        cmd_yaml()
    elif command == "alerts":
        cmd_alerts()
    elif command == "alertmanager":
        cmd_alertmanager()
    elif command == "grafana":
        cmd_grafana()
    elif command == "prometheusrule":
        cmd_prometheusrule("--write" in args)
    elif command in ("k8s", "compose", "dockerfile", "systemd") and len(args) == 1:
        {"k8s": cmd_k8s, "compose": cmd_compose, "dockerfile": cmd_dockerfile,
         "systemd": cmd_systemd}[command](args[0])
    else:
        print(__doc__)
        return 2
    for message in problems:
        print("FAIL: " + message)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
