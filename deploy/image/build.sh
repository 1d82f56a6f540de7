#!/usr/bin/env bash
# `make image`: builds the leadwheel image without pulling anything.
#
#   1. the binary: LEADWHEEL_BIN when set, else `cargo build --profile
#      $IMAGE_PROFILE -p leadwheel` (release by default);
#   2. the root file system (deploy/image/rootfs.sh) in deploy/.build/rootfs;
#   3. the image, tagged $IMAGE (leadwheel:<version>):
#      - a Docker engine answers: `docker build` of deploy/Dockerfile FROM
#        scratch over that root file system;
#      - none answers (or IMAGE_ENGINE=none): deploy/.build/leadwheel-image.tar,
#        an OCI layout that `docker load`, podman, skopeo and kind load take.
#      IMAGE_ENGINE=docker fails instead of falling back.
set -euo pipefail
cd "$(dirname "$0")/../.."

version="$(sed -n 's/^version = "\(.*\)"/\1/p' cli/leadwheel/Cargo.toml | head -1)"
[ -n "$version" ] || version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
image="${IMAGE:-leadwheel:${version:-dev}}"
profile="${IMAGE_PROFILE:-release}"
engine="${IMAGE_ENGINE:-auto}"
build=deploy/.build

if [ -n "${LEADWHEEL_BIN:-}" ]; then
    bin="$LEADWHEEL_BIN"
else
    cargo build --profile "$profile" -p leadwheel --bin leadwheel
    dir="$profile"; [ "$profile" = dev ] && dir=debug
    bin="${CARGO_TARGET_DIR:-target}/$dir/leadwheel"
fi

deploy/image/rootfs.sh "$bin" "$build/rootfs"

use_docker=no
case "$engine" in
    docker) use_docker=yes ;;
    none) ;;
    auto) docker info >/dev/null 2>&1 && use_docker=yes ;;
    *) echo "IMAGE_ENGINE must be auto, docker or none, not $engine" >&2; exit 2 ;;
esac
if [ "$use_docker" = yes ]; then
    docker build --file deploy/Dockerfile --tag "$image" "$build/rootfs"
    echo "image: $image (docker engine)"
else
    python3 deploy/image/oci.py "$build/rootfs" "$build/leadwheel-image.tar" "$image"
    echo "image: $build/leadwheel-image.tar ($image, OCI layout; no Docker engine answered)"
fi
