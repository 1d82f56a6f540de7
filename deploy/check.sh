#!/usr/bin/env bash
# The deploy checks, offline once deploy/tools.sh has installed the pinned
# helm and kubernetes-validate (it is called here; a no-op when present):
#   - the chart's copy of the scoring rules is config/scoring.toml;
#   - `helm lint --strict` with the defaults and every ci/*.yaml values set;
#   - values the schema or the templates must refuse are refused (SQLite
#     with more than one replica, unknown keys, a secret as a plain
#     variable, a grace period shorter than the shutdown stages);
#   - deploy/manifests/leadwheel.yaml is the chart rendered with its
#     defaults (regenerate: deploy/check.sh --update-manifests);
#   - deploy/policy.py over every rendering: Kubernetes schemas of the
#     oldest and newest supported versions in strict mode, probes,
#     resources, securityContext, PDBs, no secret in a ConfigMap, grace
#     period >= preStop + the shutdown stages read from runtime.rs;
#   - the image's root file system (deploy/image/rootfs.sh) runs the binary
#     as the non-root user with nothing else (chroot, as root), and
#     deploy/image/oci.py writes a loadable image of it; skipped when no
#     built binary (target/debug/leadwheel or LEADWHEEL_BIN) is there;
#   - deploy/smoke.py: the manifests' Deployments started the way a kubelet
#     would, probes, a signup to a claimed lead in work, SIGTERM within the
#     grace period (needs the binaries and TEST_POSTGRES_URL): in containers
#     of the image (`docker build` of deploy/Dockerfile over that root file
#     system) when a Docker engine answers (.ci/run starts one with
#     deploy/docker-engine.sh), else as processes of the binary.
# Ends with "deploy: N passed, M failed"; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

OLDEST_KUBE=1.30.0   # preStop sleep (the image has no shell) is on by default from 1.30
NEWEST_KUBE=1.37.0   # the newest kubernetes-validate 1.37.0 ships
chart=deploy/helm/leadwheel
tools="$(deploy/tools.sh)" || { echo "installing the deploy tools failed"; echo "deploy: 0 passed, 1 failed"; exit 1; }
helm="$tools/bin/helm"
python="$tools/venv/bin/python"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

render() { "$helm" template leadwheel "$chart" --namespace leadwheel "$@"; }

if [ "${1:-}" = --update-manifests ]; then
    render > deploy/manifests/leadwheel.yaml && echo "wrote deploy/manifests/leadwheel.yaml"
    exit $?
fi

if cmp -s config/scoring.toml "$chart/files/scoring.toml"; then
    pass "the chart's files/scoring.toml is config/scoring.toml"
else
    fail "the chart's files/scoring.toml differs from config/scoring.toml (copy it)"
fi

renders=()
for values in default "$chart"/ci/*.yaml; do
    name="$(basename "$values" .yaml)"
    args=()
    [ "$values" = default ] || args=(-f "$values")
    if log="$("$helm" lint --strict "$chart" "${args[@]}" 2>&1)"; then
        pass "helm lint --strict ($name)"
    else
        fail "helm lint --strict ($name)"; echo "$log"
    fi
    if render "${args[@]}" > "$out/$name.yaml" 2> "$out/$name.err"; then
        pass "helm template ($name)"
        renders+=("$out/$name.yaml")
    else
        fail "helm template ($name)"; cat "$out/$name.err"
    fi
done

# Each must be refused, with a message naming what is wrong.
refuse() {
    local what="$1" expect="$2"; shift 2
    local log
    if log="$(render "$@" 2>&1)"; then
        fail "refused: $what (it rendered)"
    elif grep -q -- "$expect" <<<"$log"; then
        pass "refused: $what"
    else
        fail "refused: $what (but not for that reason: $(head -c 400 <<<"$log"))"
    fi
}
refuse "SQLite with three wheel replicas" "services/wheel/replicas" \
    --set database.mode=sqlite --set services.wheel.replicas=3
refuse "SQLite with two replicas by default" "defaults/replicas" \
    --set database.mode=sqlite --set defaults.replicas=2
refuse "SQLite with autoscaling" "autoscaling/enabled" \
    --set database.mode=sqlite --set services.intake.autoscaling.enabled=true
refuse "an unknown key" "additional properties 'replica' not allowed" --set services.wheel.replica=2
refuse "a secret as a plain variable" "LEADWHEEL_JWT_SECRET" \
    --set services.wheel.env.LEADWHEEL_JWT_SECRET=not-a-place-for-secrets
refuse "a database URL as a plain variable" "LEADWHEEL_WHEEL_DATABASE_URL" \
    --set services.wheel.env.LEADWHEEL_WHEEL_DATABASE_URL=postgres://x
refuse "a grace period shorter than preStop + the shutdown stages" "shorter than the preStop sleep" \
    --set shutdown.terminationGracePeriodSeconds=59
refuse "no existingSecret" "existingSecret" --set existingSecret=
refuse "client certificates without the CA" "/tls/ca" \
    --set tls.enabled=true --set tls.clientAuth=required --set tls.ca=false
refuse "an unknown client auth mode" "tls/clientAuth" --set tls.clientAuth=maybe
refuse "a key set URL without issuer and audience" "'/jwks': 'allOf' failed" --set jwks.url=https://idp.example/jwks
refuse "a role map to an unknown role" "jwks/roleMap" --set jwks.roleMap=sales=owner
refuse "an unknown database mode" "database/mode" --set database.mode=mysql
refuse "more stream replicas than JetStream allows" "nats/streamReplicas" --set nats.streamReplicas=7
refuse "no stream replicas" "nats/streamReplicas" --set nats.streamReplicas=0
refuse "an unknown SMTP TLS mode" "smtp/tls" \
    --set services.alerting.smtp.host=smtp.example.com --set services.alerting.smtp.tls=ssl
refuse "an SMTP password without a username" "smtp/username" \
    --set services.alerting.smtp.host=smtp.example.com --set services.alerting.smtp.password=true

if [ ! -f deploy/manifests/leadwheel.yaml ]; then
    fail "deploy/manifests/leadwheel.yaml is missing (deploy/check.sh --update-manifests)"
elif diff -u deploy/manifests/leadwheel.yaml "$out/default.yaml" > "$out/manifests.diff"; then
    pass "deploy/manifests/leadwheel.yaml equals the chart rendered with its defaults"
    renders+=(deploy/manifests/leadwheel.yaml)
else
    fail "deploy/manifests/leadwheel.yaml differs from the chart (deploy/check.sh --update-manifests):"
    head -40 "$out/manifests.diff"
fi

"$python" deploy/policy.py services/plumbing/src/runtime.rs "$OLDEST_KUBE,$NEWEST_KUBE" "${renders[@]}" > "$out/policy.log"
grep -v -e '^ok ' -e '^policy: ' "$out/policy.log"
summary="$(tail -1 "$out/policy.log")"
if [[ "$summary" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
else
    fail "deploy/policy.py did not finish"
fi

bin="${LEADWHEEL_BIN:-${CARGO_TARGET_DIR:-target}/debug/leadwheel}"
# Absolute: the smoke run starts it from other working directories.
[ -e "$bin" ] && bin="$(realpath "$bin")"
if [ -x "$bin" ]; then
    if deploy/image/rootfs.sh "$bin" "$out/rootfs" > "$out/rootfs.log" 2>&1; then
        pass "the image's root file system assembles ($bin)"
        if [ "$(id -u)" = 0 ]; then
            if version="$(chroot --userspec=65532:65532 "$out/rootfs" /usr/local/bin/leadwheel --version 2>&1)"; then
                pass "the binary runs as user 65532 with only the root file system's libraries ($version)"
            else
                fail "the binary does not run in its root file system: $version"
            fi
        else
            echo "skip the chroot run (needs root)"
        fi
        if python3 deploy/image/oci.py "$out/rootfs" "$out/image.tar" leadwheel:check > /dev/null \
            && "$python" - "$out/image.tar" <<'PY'
import json, sys, tarfile
tar = tarfile.open(sys.argv[1])
index = json.load(tar.extractfile("index.json"))
manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
config = json.load(tar.extractfile("blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))
layer = tarfile.open(fileobj=tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]))
names = set(layer.getnames())
need = {"usr/local/bin/leadwheel", "etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/UTC", "etc/passwd"}
assert need <= names, need - names
assert config["config"]["User"] == "65532:65532", config["config"]
assert config["config"]["Entrypoint"] == ["/usr/local/bin/leadwheel"]
assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == ["leadwheel:check"]
PY
        then
            pass "deploy/image/oci.py writes an OCI/docker-loadable image (user 65532, CA, zoneinfo)"
        else
            fail "deploy/image/oci.py"
        fi
    else
        fail "the image's root file system"; cat "$out/rootfs.log"
    fi
else
    echo "skip the image checks: no binary at $bin (cargo build -p leadwheel, or LEADWHEEL_BIN)"
fi

# The smoke run, as a kubelet would start deploy/manifests/leadwheel.yaml,
# with the built binaries against a nats-server and Postgres
# (LEADWHEEL_NATS_SERVER, TEST_POSTGRES_URL: .ci/run sets both).
ctl="${LEADCTL_BIN:-$(dirname "$bin")/leadctl}"
[ -e "$ctl" ] && ctl="$(realpath "$ctl")"
if [ -x "$bin" ] && [ -x "$ctl" ] && [ -n "${TEST_POSTGRES_URL:-}" ]; then
    nats_server="${LEADWHEEL_NATS_SERVER:-$(command -v nats-server || true)}"
    smoke_image=()
    if [ -d "$out/rootfs" ] && docker info > /dev/null 2>&1; then
        if docker build --quiet --file deploy/Dockerfile --tag leadwheel:smoke "$out/rootfs" > "$out/docker-build.log" 2>&1; then
            pass "docker build of deploy/Dockerfile (FROM scratch) over the root file system: leadwheel:smoke"
            smoke_image=(--image leadwheel:smoke)
            trap 'rm -rf "$out"; docker rmi -f leadwheel:smoke > /dev/null 2>&1' EXIT
            echo "the smoke run uses the image leadwheel:smoke"
        else
            fail "docker build of deploy/Dockerfile"; tail -5 "$out/docker-build.log"
        fi
    else
        echo "the smoke run starts the binary: no Docker engine answers (deploy/docker-engine.sh starts one)"
    fi
    "$python" deploy/smoke.py "${smoke_image[@]}" deploy/manifests/leadwheel.yaml "$bin" "$ctl" "$nats_server" "$TEST_POSTGRES_URL" > "$out/smoke.log" 2>&1
    grep -v -e '^smoke: ' "$out/smoke.log"
    summary="$(tail -1 "$out/smoke.log")"
    if [[ "$summary" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    else
        fail "deploy/smoke.py did not finish"
    fi
else
    echo "skip the smoke run: needs $bin, $ctl and TEST_POSTGRES_URL"
fi

echo "deploy: $passed passed, $failed failed"
[ "$failed" = 0 ]
