#!/usr/bin/env python3
"""Policy and schema tests over rendered chart output (deploy/check.sh).

    policy.py RUNTIME_RS KUBE_VERSIONS RENDERED.yaml...

Each rendered file is one values set. Prints one line per check,
"ok ..." or "FAIL ...", and exits non-zero when any failed.
"""
import hashlib
import math
import re
import sys

import kubernetes_validate
import yaml

SERVICES = {"intake", "wheel", "opportunity", "alerting", "reporting", "console"}
# Kinds the Kubernetes schemas do not have (CRDs), checked by shape here.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
SECRET_NAME = re.compile(r"(SECRET|DATABASE_URL|CREDS|PASSWORD|TOKEN)$")
SECRET_TEXT = re.compile(r"(postgres(ql)?://[^\s/:@]+:[^\s@]+@|-----BEGIN|\"?password\"?\s*[:=]\s*\S+|eyJ[A-Za-z0-9_-]{10,}\.)", re.I)

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"))


def stage_model(runtime_rs):
    """The shutdown stages of Runtime::serve, read from the code, as
    (multiple of LEADWHEEL_SHUTDOWN_TIMEOUT_MS, fixed seconds). Fails when
    the code no longer has the shape the chart's grace period assumes, so a
    change there is a change here and in _helpers.tpl."""
    src = open(runtime_rs).read()
    serve = src[src.index("pub async fn serve"):]
    serve = serve[: serve.index("\n    }\n}")]
    full = len(re.findall(r"tokio::time::timeout\(\s*deadline\s*,", serve))
    half = "config.shutdown_timeout / 2" in src  # the relay's final flush
    drain = re.search(r"timeout\(\s*Duration::from_secs\((\d+)\),\s*self\.bus\.client\.drain\(\)", serve)
    shape = full == 2 and half and drain is not None
    check("runtime.rs shutdown stages are those the chart budgets for (2 x T, T/2, NATS drain)", shape,
          f"found {full} full-timeout stages, relay half-timeout={half}, drain={bool(drain)}")
    return 2.5, int(drain.group(1)) if drain else 5


def containers(dep):
    return dep["spec"]["template"]["spec"]["containers"]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def policy(label, docs, model, versions):
    by_kind = {}
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            check(f"{label}: every rendered document is a Kubernetes object", False, str(doc)[:200])
            continue
        by_kind.setdefault(doc["kind"], []).append(doc)
    docs = [d for kind in by_kind.values() for d in kind]
    deployments = by_kind.get("Deployment", [])
    check(f"{label}: renders Deployments", bool(deployments))

    # Schemas: every object, oldest and newest supported Kubernetes, strict.
    for version in versions:
        errors = []
        for doc in docs:
            if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except Exception as err:  # ValidationError, or a kind it has no schema for
                errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {err}")
        check(f"{label}: {len(docs)} objects valid against Kubernetes {version} (strict)", not errors, "; ".join(errors)[:2000])
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            eps = doc["spec"].get("endpoints", [])
            check(f"{label}: ServiceMonitor scrapes the admin ports' /metrics",
                  bool(eps) and all(e.get("port") == "admin" and e.get("path") == "/metrics" for e in eps)
                  and doc["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name") == "leadwheel")

    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    pdbs = by_kind.get("PodDisruptionBudget", [])
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    configmaps = by_kind.get("ConfigMap", [])
    check(f"{label}: the chart renders no Secret (existingSecret only)", "Secret" not in by_kind)

    served_tls = []
    for dep in deployments:
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        component = dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in containers(dep):
            where = f"{label}: {name}/{c['name']}"
            check(f"{where} runs `leadwheel serve {component}`", c.get("args") == ["serve", component] and component in SERVICES)
            probes = {p: c.get(p, {}).get("httpGet", {}) for p in ("startupProbe", "livenessProbe", "readinessProbe")}
            check(f"{where} has startup, liveness and readiness probes on the admin port",
                  all(g.get("port") == "admin" for g in probes.values())
                  and probes["readinessProbe"].get("path") == "/readyz"
                  and probes["livenessProbe"].get("path") == "/healthz"
                  and probes["startupProbe"].get("path") == "/healthz")
            startup = c.get("startupProbe", {})
            budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
            check(f"{where} startup probe allows >= 120 s for migrations", budget >= 120, f"{budget} s")
            res = c.get("resources", {})
            check(f"{where} has resources (cpu and memory requests, memory limit)",
                  {"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {}))
            sc = c.get("securityContext", {})
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            check(f"{where} has a locked-down securityContext",
                  sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
                  and "ALL" in sc.get("capabilities", {}).get("drop", [])
                  and (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")) is True
                  and seccomp == "RuntimeDefault", str(sc))
            env = env_of(c)
            # The admin port serves TLS with a certificate unless LEADWHEEL_ADMIN_TLS=0
            # (services/plumbing/src/tls.rs); a probe in the other scheme never succeeds.
            admin_tls = "LEADWHEEL_TLS_CERT_FILE" in env and env.get("LEADWHEEL_ADMIN_TLS", "1") != "0"
            check(f"{where} probes use HTTPS exactly when its admin port serves TLS",
                  all((g.get("scheme", "HTTP") == "HTTPS") == admin_tls for g in probes.values()),
                  f"admin TLS {admin_tls}: {probes}")
            leaked = [k for k, v in env.items() if SECRET_NAME.search(k) and v is not None]
            check(f"{where} takes secrets only as *_FILE", not leaked, str(leaked))
            # Every *_FILE secret points into the mounted secret volume's items.
            mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
            items = {f"{mounts[v['name']]}/{i['path']}"
                     for v in pod.get("volumes", []) if "secret" in v and v["name"] in mounts
                     for i in v["secret"].get("items", [])}
            files = {k: v for k, v in env.items() if k.endswith("_FILE")}
            check(f"{where} reads every *_FILE from a mounted Secret item", set(files.values()) <= items and "LEADWHEEL_JWT_SECRET_FILE" in files,
                  f"{files} vs {items}")
            # Grace period >= preStop sleep + every shutdown stage.
            t_ms = int(env.get("LEADWHEEL_SHUTDOWN_TIMEOUT_MS") or 20000)
            prestop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            need = prestop + math.ceil(model[0] * t_ms / 1000) + model[1]
            grace = pod.get("terminationGracePeriodSeconds", 30)
            check(f"{where} grace {grace} s >= preStop {prestop} s + shutdown stages {need - prestop} s", grace >= need)
            check(f"{where} has a preStop sleep", prestop > 0)
            ports = {p["name"] for p in c.get("ports", [])}
            svc = services.get(name)
            svc_ports = {p["name"] for p in svc["spec"]["ports"]} if svc else set()
            check(f"{where} has a Service with every container port", svc is not None and ports == svc_ports
                  and "admin" in ports and (component == "console" or "grpc" in ports)
                  and (component not in ("intake", "console") or "http" in ports), f"{ports} vs {svc_ports}")
        served_tls.append("LEADWHEEL_TLS_CERT_FILE" in env_of(containers(dep)[0]))
        replicas = hpas[name]["spec"]["minReplicas"] if name in hpas else dep["spec"].get("replicas", 1)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        covered = [p for p in pdbs if all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())]
        if replicas > 1:
            check(f"{label}: {name} ({replicas} replicas) has a PodDisruptionBudget", len(covered) == 1)
        else:
            check(f"{label}: {name} (1 replica) has no PodDisruptionBudget (it would block drains)", not covered)
        sqlite = "LEADWHEEL_DATA_DIR" in env_of(containers(dep)[0])
        if sqlite:
            check(f"{label}: {name} on SQLite runs one replica, recreated", replicas <= 1 and name not in hpas
                  and dep["spec"]["strategy"]["type"] == "Recreate")

    check(f"{label}: every service serves TLS, or none does (one tls.enabled for every port)",
          all(served_tls) or not any(served_tls), str(served_tls))

    # Each NetworkPolicy opens its pods' public ports (signups, the console,
    # the CSV download) beyond the release; gRPC and admin stay closed.
    for np in by_kind.get("NetworkPolicy", []):
        name = np["metadata"]["name"]
        svc = services.get(name)
        public = {p["name"] for p in svc["spec"]["ports"]} & {"http", "download"} if svc else set()
        opened = {p["port"] for rule in np["spec"].get("ingress", []) if "ports" in rule for p in rule["ports"]}
        check(f"{label}: NetworkPolicy {name} opens its public ports {sorted(public)} and no other",
              svc is not None and opened - {"admin"} == public, f"opened {sorted(opened)}")

    for cm in configmaps:
        bad = [k for k, v in (cm.get("data") or {}).items() if SECRET_NAME.search(k.upper().replace("-", "_")) or SECRET_TEXT.search(v or "")]
        check(f"{label}: ConfigMap {cm['metadata']['name']} holds no secret", not bad, str(bad))
        if cm["metadata"]["name"].endswith("-intake-rules"):
            digest = hashlib.sha256(cm["data"]["scoring.toml"].encode()).hexdigest()
            intake = [d for d in deployments if d["metadata"]["name"].endswith("-intake")]
            annotations = intake[0]["spec"]["template"]["metadata"].get("annotations", {}) if intake else {}
            check(f"{label}: intake pods carry the scoring rules' checksum", annotations.get("checksum/scoring-rules") == digest)


def main():
    runtime_rs, versions = sys.argv[1], sys.argv[2].split(",")
    model = stage_model(runtime_rs)
    for path in sys.argv[3:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        policy(path.rsplit("/", 1)[-1].removesuffix(".yaml"), docs, model, versions)
    failed = results.count(False)
    print(f"policy: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
