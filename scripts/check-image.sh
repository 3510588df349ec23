#!/usr/bin/env bash
# Runs milvault's image (scripts/build-image.sh) with buildah: `--version`, then `serve` inside it
# against the Milvus on 127.0.0.1:19530, asking its health endpoint and the portal's first page
# from outside; the container is removed afterwards.
#
#   bash scripts/check-image.sh [TAG] [PORT]
set -euo pipefail
tag=${1:-milvault:latest}
port=${2:-3990}
ctr=$(buildah from --quiet "$tag")
server=
cleanup() {
  # the server runs as a child of `buildah run`, which does not pass signals on
  pkill -f -- "milvault serve --addr 127.0.0.1:$port" 2>/dev/null || true
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  buildah rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
run() { buildah run --isolation chroot "$ctr" -- "$@"; }
version=$(run /usr/bin/milvault --version)
echo "in the image: $version"
[[ $version == milvault* ]]
# as the image's CMD, on a port of the test's own and on loopback (no sign-in needed there)
run /usr/bin/milvault serve --addr "127.0.0.1:$port" --site-root /usr/share/milvault/site \
  --set minio.storageType=local --set minio.backupStorageType=local >/tmp/milvault-image-serve.log 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/api/v2/health" && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/api/v2/health" | grep -q '"status":"ok"'
# the image's own health check, as the container runtime runs it
run /usr/bin/milvault health --url "http://127.0.0.1:$port/api/v2/health" >/dev/null
# the portal renders and its WASM is served from the image's site files
curl -sf "http://127.0.0.1:$port/" | grep -q "milvault"
curl -sf -o /dev/null "http://127.0.0.1:$port/pkg/milvault_bg.wasm"
# it reaches the test Milvus from inside (check exits 1: Milvus' binlog folder is not in the image)
checked=$(run /usr/bin/milvault check --set milvus.address=127.0.0.1 2>/dev/null || true)
grep -qE '^ok +milvus +Milvus v2' <<<"$checked" || { echo "$checked" >&2; exit 1; }
echo "the image serves the portal and /api/v2/health on port $port, and reaches Milvus"
