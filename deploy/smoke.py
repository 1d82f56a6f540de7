#!/usr/bin/env python3
"""Starts a rendered manifest's Deployments the way a kubelet would, as
processes of the built binary (deploy/check.sh).

    smoke.py [--image NAME] MANIFEST.yaml LEADWHEEL_BIN LEADCTL_BIN NATS_SERVER POSTGRES_URL

For each Deployment: its container's args and env, with what Kubernetes
would provide made local (each container port on a free loopback port, each
Service name on the ports behind it, the Secret's items and the ConfigMap as
files in a temporary folder, NATS_URL on a nats-server started here, one
fresh Postgres database per service). With --image, each runs in a
container of that image (`docker run`: the host's network, the folders
mounted at the container's mount paths, the root file system read-only, the
image's non-root user, every capability dropped); without, as a process of
LEADWHEEL_BIN with the mount paths rewritten to the folders. Then: the startup and readiness probes
answer; a team is set, a signup posted to intake's HTTP port, the lead
claimed and seen in work at opportunity; SIGTERM to every process, each
must exit 0 within its pod's terminationGracePeriodSeconds. A binary that
does not know a service (`leadwheel serve console` before the console
exists) is reported as skipped. Prints ok/FAIL lines and
"smoke: N passed, M failed".
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import yaml

results = []
# What Runtime::serve logs when a shutdown stage runs out of time.
LATE = ("did not finish", "did not stop in time", "not fully flushed", "drain timed out")


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"), flush=True)
    return ok


_taken_ports = set()


def free_port():
    """A port no other process holds, outside the kernel's ephemeral range and never handed out twice.

    A port from bind(0) is an ephemeral one: between this check and the service binding it, any outgoing
    connection (a service to Postgres or NATS) may take it, which once failed a CI run with "Address already
    in use". Ports below the ephemeral range are only ever taken by a listener that asks for them.
    """
    low = 32768
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _taken_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise SystemExit("smoke: no free port below the ephemeral range")


def http_status(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_for(pred, seconds, step=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return None


def main():
    args = sys.argv[1:]
    image = None
    if args[:1] == ["--image"]:
        image, args = args[1], args[2:]
    manifest, binary, leadctl, nats_server, pg_url = args[:5]
    docs = [d for d in yaml.safe_load_all(open(manifest)) if d]
    deps = [d for d in docs if d["kind"] == "Deployment"]
    services = [d for d in docs if d["kind"] == "Service"]
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    tmp = tempfile.mkdtemp(prefix="lw-smoke-")
    procs = {}
    containers = {}
    nats = None
    dbs = []
    pg = urlsplit(pg_url)
    try:
        nats_port = free_port()
        nats = subprocess.Popen([nats_server, "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd", f"{tmp}/nats"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        jwt = "smoke-" + os.urandom(16).hex()

        # Container port (deployment, port name) -> local port; Service DNS name:port -> local port.
        local = {}
        for dep in deps:
            for p in dep["spec"]["template"]["spec"]["containers"][0].get("ports", []):
                local[(dep["metadata"]["name"], p["name"])] = (p["containerPort"], free_port())
        dns = {}
        for svc in services:
            name = svc["metadata"]["name"]
            for p in svc["spec"]["ports"]:
                if (name, p["targetPort"]) in local:
                    dns[f"{name}:{p['port']}"] = local[(name, p["targetPort"])][1]

        for dep in deps:
            name = dep["metadata"]["name"]
            pod = dep["spec"]["template"]["spec"]
            c = pod["containers"][0]
            component = c["args"][-1]
            root = f"{tmp}/{name}"
            mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
            paths = {}
            for vol in pod.get("volumes", []):
                if vol["name"] not in mounts:
                    continue
                folder = f"{root}/{vol['name']}"
                os.makedirs(folder, exist_ok=True)
                paths[mounts[vol["name"]]] = folder
                if "secret" in vol:
                    for item in vol["secret"]["items"]:
                        key = item["key"]
                        if key == "jwt-secret":
                            value = jwt
                        elif key.endswith("-database-url"):
                            db = f"lw_t_smoke_{os.getpid()}_{key[: -len('-database-url')]}"
                            subprocess.run(["psql", "-d", urlunsplit(pg._replace(path="/postgres")), "-qc",
                                            f"CREATE DATABASE {db}"], check=True)
                            dbs.append(db)
                            value = urlunsplit(pg._replace(path=f"/{db}"))
                        else:
                            raise SystemExit(f"smoke: no test value for the Secret key {key}")
                        with open(f"{folder}/{item['path']}", "w") as f:
                            f.write(value + "\n")
                elif "configMap" in vol:
                    for key, value in configmaps[vol["configMap"]["name"]]["data"].items():
                        with open(f"{folder}/{key}", "w") as f:
                            f.write(value)
            env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp" if image else root}
            for e in c.get("env", []):
                value = e["value"]
                # In a container the folders are mounted where the pod has them.
                for path, folder in ([] if image else paths.items()):
                    if value.startswith(path + "/") or value == path:
                        value = folder + value[len(path):]
                m = re.fullmatch(r"0\.0\.0\.0:(\d+)", value)
                if m:
                    port = next(lp for (d, _), (cp, lp) in local.items() if d == name and cp == int(m.group(1)))
                    value = f"127.0.0.1:{port}"
                m = re.fullmatch(r"http://([a-z0-9-]+:\d+)", value)
                if m and m.group(1) in dns:
                    value = f"http://127.0.0.1:{dns[m.group(1)]}"
                if e["name"] == "NATS_URL":
                    value = f"nats://127.0.0.1:{nats_port}"
                env[e["name"]] = value
            log = open(f"{root}.log", "w")
            def run_as(field):
                # The container's securityContext over the pod's, as the kubelet reads them.
                return c.get("securityContext", {}).get(field, pod.get("securityContext", {}).get(field, 65532))

            if image:
                container = f"lw-smoke-{os.getpid()}-{component}"
                containers[name] = container
                command = ["docker", "run", "--rm", "--name", container, "--network", "host", "--read-only",
                           "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                           "--user", f"{run_as('runAsUser')}:{run_as('runAsGroup')}"]
                read_only = {m["mountPath"]: m.get("readOnly", False) for m in c.get("volumeMounts", [])}
                for path, folder in paths.items():
                    os.chown(folder, 65532, 65532)
                    command += ["-v", f"{folder}:{path}" + (":ro" if read_only.get(path) else "")]
                for key, value in env.items():
                    command += ["-e", f"{key}={value}"]
                # SIGTERM to `docker run` reaches the container's process (--sig-proxy, the default).
                command += [image, *c["args"]]
                cwd = tmp
            else:
                command = [binary, *c["args"]]
                cwd = root if os.path.isdir(root) else tmp
            procs[name] = (subprocess.Popen(command, env=None if image else env, cwd=cwd,
                                            stdout=log, stderr=subprocess.STDOUT), component, dep)

        time.sleep(0.5)
        running = {}
        for name, (proc, component, dep) in procs.items():
            if proc.poll() is not None:
                out = open(f"{tmp}/{name}.log").read()
                if "invalid value" in out and f"'{component}'" in out:
                    print(f"skip {name}: this binary has no `serve {component}`", flush=True)
                    continue
                check(f"{name} starts", False, out[-800:])
                continue
            running[name] = (proc, component, dep)

        for name, (proc, component, dep) in running.items():
            c = dep["spec"]["template"]["spec"]["containers"][0]
            admin = local[(name, "admin")][1]
            startup = c["startupProbe"]
            budget = startup["periodSeconds"] * startup["failureThreshold"]
            started = wait_for(lambda: http_status(f"http://127.0.0.1:{admin}{c['startupProbe']['httpGet']['path']}") == 200, budget)
            check(f"{name}: startup probe answers", bool(started), open(f"{tmp}/{name}.log").read()[-800:])
            ready = wait_for(lambda: http_status(f"http://127.0.0.1:{admin}{c['readinessProbe']['httpGet']['path']}") == 200, 30)
            check(f"{name}: readiness probe answers", bool(ready), open(f"{tmp}/{name}.log").read()[-800:])
            if image:
                seen = subprocess.run(["docker", "inspect", "--format",
                                       "{{.State.Running}} {{.Config.Image}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
                                       containers[name]], capture_output=True, text=True).stdout.split()
                check(f"{name}: runs in a container of {image}, as 65532, read-only", seen[:1] == ["true"]
                      and seen[1:2] == [image] and seen[2:3] == ["65532:65532"] and seen[3:] == ["true"], str(seen))

        def port_of(component, port):
            return next(lp for (d, p), (_, lp) in local.items() if d.endswith("-" + component) and p == port)

        ctl_env = {**os.environ, "LEADWHEEL_JWT_SECRET": jwt,
                   "LEADWHEEL_INTAKE_HTTP_URL": f"http://127.0.0.1:{port_of('intake', 'http')}"}
        for component in ("intake", "wheel", "opportunity", "alerting"):
            ctl_env[f"LEADWHEEL_{component.upper()}_URL"] = f"http://127.0.0.1:{port_of(component, 'grpc')}"

        def ctl(*args):
            return subprocess.run([leadctl, *args], env=ctl_env, capture_output=True, text=True, timeout=30)

        team = ctl("teams", "set", "smoke", "--manager", "maya", "--reps", "ana,ben", "--window", "60s")
        check("a team is set through the wheel", team.returncode == 0, team.stderr)
        body = json.dumps({"email": "pat@acme.example", "name": "Pat Buyer", "company": "Acme"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port_of('intake', 'http')}/v1/signups", data=body,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                lead = json.load(r)["lead_id"]
        except (OSError, ValueError, KeyError) as err:
            lead = f"none ({err})"
        if check(f"intake accepts a signup ({lead})", lead.startswith("lead_")):
            claimed = wait_for(lambda: ctl("claim", lead, "--as", "ana").returncode == 0, 30, step=0.5)
            check("ana claims the lead offered to her", bool(claimed))

            def in_work():
                out = ctl("-o", "json", "opps", "leads", "--as", "ana")
                return out.returncode == 0 and lead in out.stdout
            check("the lead is in work at opportunity", bool(wait_for(in_work, 30, step=0.5)))

        for name, (proc, component, dep) in running.items():
            proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        for name, (proc, component, dep) in running.items():
            grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            try:
                code = proc.wait(timeout=max(0.1, grace - (time.monotonic() - t0)))
                took = time.monotonic() - t0
                check(f"{name}: exits 0 on SIGTERM within its grace period ({took:.1f} s of {grace} s)", code == 0,
                      f"exit {code}: " + open(f"{tmp}/{name}.log").read()[-800:])
            except subprocess.TimeoutExpired:
                check(f"{name}: exits on SIGTERM within its grace period ({grace} s)", False)
                continue
            # Nothing left behind: every stage finished in time, the outbox was flushed.
            messages = []
            for line in open(f"{tmp}/{name}.log"):
                try:
                    messages.append(json.loads(line).get("message", ""))
                except ValueError:
                    pass
            late = [m for m in messages if any(w in m for w in LATE)]
            check(f"{name}: drained in order (every stage in time, outbox flushed, stopped)",
                  not late and "stopped" in messages and (component == "console" or "outbox flushed at shutdown" in messages),
                  str(late))
    finally:
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # Killing `docker run` leaves its container running.
        for container in containers.values():
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        if nats:
            nats.kill()
            nats.wait()
        for db in dbs:
            subprocess.run(["psql", "-d", urlunsplit(pg._replace(path="/postgres")), "-qc",
                            f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)
        if os.environ.get("LEADWHEEL_SMOKE_KEEP") != "1":
            subprocess.run(["rm", "-rf", tmp], check=False)
        else:
            print(f"kept {tmp}")
    failed = results.count(False)
    print(f"smoke: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
