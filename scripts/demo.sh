#!/usr/bin/env bash
# The README's first command: installs what is missing, starts a demo Milvus 2.3.5 (local storage,
# seeded with sample collections) on 127.0.0.1:19530, builds the portal and serves it on
# http://127.0.0.1:3000 with milvault's embedded defaults.
#
#   bash scripts/demo.sh          start; Ctrl+C stops the portal and the demo Milvus it started
#   bash scripts/demo.sh stop     stop a demo running in another terminal (or left behind)
#   bash scripts/demo.sh status   say what is running
#
# Started twice, it starts no second Milvus: a running demo is reported, a running Milvus reused
# (and then left running on exit, since this run did not start it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$HOME/.cargo/bin:$PATH
source "$repo/scripts/testenv/lib.sh"

# /var/lib/milvus/data is Milvus' own default and milvault's embedded default: no settings needed
if [ -z "${MILVAULT_DEMO_DIR:-}" ] && mkdir -p /var/lib/milvus 2>/dev/null && [ -w /var/lib/milvus ]; then
  data=/var/lib/milvus
else
  data=${MILVAULT_DEMO_DIR:-$HOME/.local/share/milvault/demo-milvus}
fi
state=$data/milvault-demo
mkdir -p "$state"

group_alive() { [ -n "${1:-}" ] && kill -0 -- -"$1" 2>/dev/null; }
recorded() { cat "$state/$1.pgid" 2>/dev/null || true; }
milvus_up() { curl -sf http://127.0.0.1:9091/healthz >/dev/null 2>&1; }

stop_demo() {
  local portal milvus
  portal=$(recorded portal) milvus=$(recorded milvus)
  if group_alive "$portal"; then stop_groups "$portal"; echo "stopped the demo portal" >&2; fi
  if group_alive "$milvus"; then stop_groups "$milvus"; echo "stopped the demo Milvus" >&2; fi
  rm -f "$state/portal.pgid" "$state/milvus.pgid"
}

case "${1:-start}" in
  stop) stop_demo; exit 0 ;;
  status)
    group_alive "$(recorded portal)" && echo "portal: running on http://127.0.0.1:3000" || echo "portal: not running"
    if group_alive "$(recorded milvus)"; then echo "demo Milvus: running (data in $data)"
    elif milvus_up; then echo "a Milvus not started by demo.sh answers on 127.0.0.1:19530"
    else echo "demo Milvus: not running"; fi
    exit 0 ;;
  start) ;;
  *) echo "usage: demo.sh [start|stop|status]" >&2; exit 2 ;;
esac

if group_alive "$(recorded portal)"; then
  echo "the demo is already running on http://127.0.0.1:3000 (stop it with: bash scripts/demo.sh stop)" >&2
  exit 0
fi

bash "$repo/scripts/install-test-deps.sh"
# the portal's WASM tools (no browser needed to run it)
MILVAULT_SKIP_BROWSER=1 bash "$repo/scripts/install-web-deps.sh"

started_milvus=
portal_pid=
on_exit() {
  trap - INT TERM EXIT
  if [ -n "$portal_pid" ]; then stop_groups "$portal_pid"; rm -f "$state/portal.pgid"; fi
  if [ -n "$started_milvus" ]; then
    echo "stopping the demo Milvus" >&2
    stop_groups "$started_milvus"
    rm -f "$state/milvus.pgid"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if milvus_up; then
  echo "reusing the Milvus that answers on 127.0.0.1:19530 (not started by this run: left running on exit)" >&2
else
  echo "starting the demo Milvus (data in $data)" >&2
  started_milvus=$(start_milvus "$data" local)
  echo "$started_milvus" >"$state/milvus.pgid"
  wait_milvus_ready "$data"
  seed_demo_data
fi
if [ "$data" != /var/lib/milvus ]; then
  export MINIO_ROOT_PATH=$data/data
fi

cd "$repo"
cargo build --release --bin milvault --quiet
bash scripts/build-site.sh target/site
target/release/milvault check || true
setsid target/release/milvault serve &
portal_pid=$!
echo "$portal_pid" >"$state/portal.pgid"
echo "portal on http://127.0.0.1:3000 (backups in $repo/milvault-backups; Ctrl+C stops the portal and the demo Milvus)" >&2
wait "$portal_pid"
