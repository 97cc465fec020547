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
"""

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
                # grafana/dashboards/ is filled by the Grafana work; a missing dir is created.
                if not os.path.exists(path) and not source.endswith("grafana/dashboards"):
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
    print("deploy/compose: services, mounts and config consistent")


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
