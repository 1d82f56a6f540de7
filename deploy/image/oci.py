#!/usr/bin/env python3
"""Writes the leadwheel image as one tar file without a container engine:
    oci.py ROOTFS OUT.tar TAG

The tar is an OCI image layout (oci-layout, index.json, blobs/sha256/...)
that also carries Docker's manifest.json, so `docker load -i OUT.tar`,
podman, skopeo and `kind load image-archive` all take it. One layer: the
root file system from deploy/image/rootfs.sh, owned by root except /data;
the config matches deploy/Dockerfile (user 65532, entrypoint, env).
"""
import hashlib
import io
import json
import os
import sys
import tarfile

ENV = [
    "PATH=/usr/local/bin",
    "TZ=UTC",
    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    "LEADWHEEL_LOG_FORMAT=json",
    "LEADWHEEL_DATA_DIR=/data",
]


def layer_tar(rootfs: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in [None] + sorted(filenames) + dirnames:
                if name is None:
                    path = dirpath
                elif name in dirnames:
                    continue  # directories are added when walked
                else:
                    path = os.path.join(dirpath, name)
                arc = os.path.relpath(path, rootfs)
                if arc == ".":
                    continue
                info = tar.gettarinfo(path, arcname=arc)
                info.mtime = 0  # reproducible: the same inputs give the same digest
                owner = 65532 if arc == "data" else 0
                info.uid = info.gid = owner
                info.uname = info.gname = ""
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def main() -> None:
    rootfs, out, tag = sys.argv[1:4]
    blobs = {}

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    layer = layer_tar(rootfs)
    layer_digest = blob(layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Env": ENV,
            "WorkingDir": "/data",
            "Entrypoint": ["/usr/local/bin/leadwheel"],
            "Cmd": ["--help"],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        "history": [{"created_by": "deploy/image/oci.py (root file system from deploy/image/rootfs.sh)"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = blob(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": f"sha256:{config_digest}",
            "size": len(config_bytes),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": f"sha256:{layer_digest}",
            "size": len(layer),
        }],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = blob(manifest_bytes)
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{manifest_digest}",
            "size": len(manifest_bytes),
            "annotations": {
                "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1],
                "io.containerd.image.name": tag,
            },
        }],
    }
    docker_manifest = [{
        "Config": f"blobs/sha256/{config_digest}",
        "RepoTags": [tag],
        "Layers": [f"blobs/sha256/{layer_digest}"],
    }]

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(out, mode="w") as tar:
        add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add(tar, "index.json", json.dumps(index, sort_keys=True).encode())
        add(tar, "manifest.json", json.dumps(docker_manifest).encode())
        for digest, data in blobs.items():
            add(tar, f"blobs/sha256/{digest}", data)
    print(f"{out}: {tag} sha256:{manifest_digest}")


if __name__ == "__main__":
    main()
