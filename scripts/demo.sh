#!/usr/bin/env bash
# Starts a demo Milvus 2.3.5 (local storage, seeded with sample collections) on 127.0.0.1:19530 and
# prints the settings milvault needs for it. Used by the README's first command.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/install-test-deps.sh"
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$PATH
# /var/lib/milvus/data is Milvus' own default and milvault's embedded default: no settings needed
if [ -z "${MILVAULT_DEMO_DIR:-}" ] && mkdir -p /var/lib/milvus 2>/dev/null && [ -w /var/lib/milvus ]; then
  data=/var/lib/milvus
else
  data=${MILVAULT_DEMO_DIR:-$HOME/.local/share/milvault/demo-milvus}
fi
testenv=${MILVAULT_TESTENV:-$repo/../shared/testenv}
if ! curl -sf http://127.0.0.1:9091/healthz >/dev/null 2>&1; then
  bash "$testenv/start-milvus.sh" "$data" local >/dev/null
  python "$testenv/seed.py" >/dev/null
  python "$repo/tests/support/seed_extra.py" >/dev/null
fi
echo "demo Milvus on 127.0.0.1:19530 (data in $data; stop it with: pkill -f milvus-server)" >&2
if [ "$data" != /var/lib/milvus ]; then
  export MINIO_ROOT_PATH=$data/data
fi
# the portal: cargo-leptos and the WASM tools (no browser needed to run it)
MILVAULT_SKIP_BROWSER=1 bash "$repo/scripts/install-web-deps.sh"
export PATH=$HOME/.cargo/bin:$PATH
cd "$repo"
cargo leptos build --release 2>&1 | { grep -vE '^\s+(Compiling|Downloaded|Downloading)' || true; }
target/release/milvault check || true
echo "portal on http://127.0.0.1:3000 (backups in $repo/milvault-backups; Ctrl+C to stop)" >&2
exec target/release/milvault serve
