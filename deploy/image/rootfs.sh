#!/usr/bin/env bash
# Assembles the image's root file system from a built `leadwheel` binary:
#   deploy/image/rootfs.sh BINARY OUTDIR
# OUTDIR gets the binary (debug info stripped), exactly the shared libraries
# `ldd` lists for it (and their loader), the CA bundle, the time-zone data,
# /etc/passwd and /etc/group with the non-root user leadwheel (65532), and
# empty /data and /tmp (mount points: the root file system is read-only).
set -euo pipefail
bin="${1:?usage: rootfs.sh BINARY OUTDIR}"
out="${2:?usage: rootfs.sh BINARY OUTDIR}"
[ -x "$bin" ] || { echo "rootfs.sh: $bin is not an executable" >&2; exit 1; }
for f in /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/UTC; do
    [ -e "$f" ] || { echo "rootfs.sh: $f is missing (apt-get install ca-certificates tzdata)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"/{usr/local/bin,etc/ssl/certs,usr/share,data,tmp}
cp "$bin" "$out/usr/local/bin/leadwheel"
if command -v strip >/dev/null; then
    strip --strip-debug "$out/usr/local/bin/leadwheel"
fi

# Exactly the libraries the dynamic loader resolves for this binary: each
# `=> /path` line, plus the loader itself (the absolute path line). A
# statically linked binary has none ("not a dynamic executable").
if ldd_out="$(ldd "$bin" 2>&1)"; then
    while read -r lib; do
        [ -n "$lib" ] || continue
        mkdir -p "$out$(dirname "$lib")"
        cp -L "$lib" "$out$lib"
    done < <(printf '%s\n' "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
elif ! printf '%s' "$ldd_out" | grep -q 'not a dynamic executable'; then
    echo "rootfs.sh: ldd $bin failed: $ldd_out" >&2
    exit 1
fi

cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/share/zoneinfo "$out/usr/share/zoneinfo"
cat > "$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
leadwheel:x:65532:65532:leadwheel:/data:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat > "$out/etc/group" <<'GROUP'
root:x:0:
leadwheel:x:65532:
nobody:x:65534:
GROUP
# glibc's resolver: the hosts file Kubernetes writes, then DNS.
echo 'hosts: files dns' > "$out/etc/nsswitch.conf"
chmod 1777 "$out/tmp"
chown 65532:65532 "$out/data" 2>/dev/null || true
