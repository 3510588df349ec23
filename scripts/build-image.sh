#!/usr/bin/env bash
# Builds milvault's container image from the Containerfile at the root with Debian's buildah,
# without pulling a base image: the image is FROM scratch, and its rootfs/ is assembled here from
# what the build produced (the binary, stripped, and the C libraries `ldd` says it links; the
# portal's site; CA certificates; a passwd entry for the non-root user 65532).
#
#   bash scripts/build-image.sh [TAG]        (default milvault:latest)
#
# MILVAULT_IMAGE_BINARY: the binary to put in (default target/release/milvault, built if missing);
# MILVAULT_IMAGE_SITE: the built site (default target/site, built with scripts/build-site.sh if
# missing). Needs root (buildah); installs buildah from Debian when it is missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tag=${1:-milvault:latest}
bin=${MILVAULT_IMAGE_BINARY:-target/release/milvault}
site=${MILVAULT_IMAGE_SITE:-target/site}
export PATH=$HOME/.cargo/bin:$PATH

command -v buildah >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah; }
if [ ! -x "$bin" ]; then cargo build --release --bin milvault --quiet; fi
if [ ! -d "$site/pkg" ]; then bash scripts/build-site.sh "$site"; fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/usr/share/milvault" "$root/tmp" "$ctx/state"
strip -o "$root/usr/bin/milvault" "$bin"
# the dynamic loader and every library the binary links, at the paths it looks them up
for lib in $(ldd "$bin" | grep -oE '/[^ ]+' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -r "$site" "$root/usr/share/milvault/site"
printf 'root:x:0:0:root:/root:/sbin/nologin\nmilvault:x:65532:65532:milvault:/var/lib/milvault:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nmilvault:x:65532:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
cp Containerfile "$ctx/"
buildah bud --quiet --isolation chroot --format docker -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
size=$(buildah images --format '{{.Size}}' "$tag" | head -1)
echo "built $tag ($size)" >&2
