#!/usr/bin/env bash
# Runs every test: unit tests, then integration tests against a real Milvus 2.3.5 with local
# storage, then against a real Milvus on SeaweedFS S3 (backups in another bucket). Starts and seeds
# the servers on 127.0.0.1 and stops them afterwards, also when a test fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
testenv=${MILVAULT_TESTENV:-$repo/../shared/testenv}
[ -d "$testenv" ] || { echo "missing $testenv (the shared test environment scripts)" >&2; exit 1; }
bash scripts/install-test-deps.sh
bash scripts/install-web-deps.sh
export PATH=$HOME/.cargo/bin:$PATH
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$PATH
export MILVAULT_TEST_PYTHON=$(command -v python)
work=$(mktemp -d /tmp/milvault-test.XXXXXX)
pgids=()
stop_all() {
  for g in "${pgids[@]}"; do kill -- -"$g" 2>/dev/null || true; done
  sleep 2
  for g in "${pgids[@]}"; do kill -9 -- -"$g" 2>/dev/null || true; done
  pgids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

echo "== building"
cargo build --all-targets --quiet
echo "== unit tests"
cargo test --quiet --workspace --lib --bins
echo "== building the portal (server + WASM)"
cargo leptos build --release 2>&1 | { grep -vE '^\s+(Compiling|Downloaded|Downloading)' || true; }

# healthz can answer before the gRPC proxy does: wait until a client can connect
# (root/Milvus are the credentials of a Milvus with authorization on; one without ignores them)
wait_milvus_ready() {
  for _ in $(seq 1 60); do
    python -c "from pymilvus import connections; connections.connect(uri='http://127.0.0.1:19530', user='root', password='Milvus', timeout=5)" 2>/dev/null && return 0
    sleep 2
  done
  echo "Milvus did not accept connections; its log ends with:" >&2; tail -50 "$1/milvus.log" >&2; return 1
}
# milvus-server probes its ports with bind() without SO_REUSEADDR and silently moves a component to
# another port when the probe fails, which leaves the proxy waiting forever. A stopped Milvus leaves its
# ports in TIME_WAIT for ~60 s: wait until no socket of any state uses them.
milvus_ports=':(2379|2380|9091|19529|19530|19531|53100|13333|21121|21123|21124|22930)$'
wait_port_free() {
  for _ in $(seq 1 120); do
    ss -Htan | awk '{print $4}' | grep -qE "$milvus_ports" || return 0
    sleep 1
  done
  echo "Milvus' ports are still in use:" >&2; ss -Htanp | grep -E "$milvus_ports" >&2 || true; return 1
}

# Starts Milvus with a start script (DIR first among its arguments). A start that fails (it happened
# once in CI, on S3, with no log to read) is retried twice on a fresh data directory after showing
# what the logs say.
start_milvus() {
  local script=$1 dir=$2 attempt pg p
  shift
  for attempt in 1 2 3; do
    wait_port_free
    if pg=$(bash "$script" "$@"); then echo "$pg"; return 0; fi
    echo "Milvus did not start (attempt $attempt of 3); its logs end with:" >&2
    tail -n 5 "$dir/milvus.log" >&2 2>/dev/null || true
    grep -hE '\[(ERROR|FATAL)\]|^panic|^fatal' "$dir/logs/milvus-stdout.log" "$dir/logs/milvus-stderr.log" 2>/dev/null \
      | tail -n 15 | cut -c1-400 >&2 || true
    # what is left of it: the wrapper names the directory, the server runs in it
    pkill -9 -f -- "--data $dir" 2>/dev/null || true
    for p in /proc/[0-9]*; do
      if [ "$(readlink "$p/cwd" 2>/dev/null)" = "$dir" ]; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
    done
    sleep 1
    rm -rf "$dir"
  done
  return 1
}
# "weed mini" answers HTTP before its filer serves buckets: wait until both buckets take a write
wait_s3_ready() {
  python - "$1" <<'PY'
import io, sys, time
from minio import Minio
client = Minio(f"127.0.0.1:{sys.argv[1]}", access_key="minioadmin", secret_key="minioadmin", secure=False)
error = None
for _ in range(120):
    try:
        for bucket in ("a-bucket", "milvault"):
            client.put_object(bucket, ".milvault-ready", io.BytesIO(b"ok"), 2)
            client.remove_object(bucket, ".milvault-ready")
        sys.exit(0)
    except Exception as e:  # not ready yet
        error = e
        time.sleep(0.5)
sys.exit(f"S3 on port {sys.argv[1]} did not take writes within 60 s: {error}")
PY
}

echo "== Milvus with local storage"
local_pg=$(start_milvus "$testenv/start-milvus.sh" "$work/milvus-local" local)
pgids+=("$local_pg")
wait_milvus_ready "$work/milvus-local"
python "$testenv/seed.py" >/dev/null
python tests/support/seed_extra.py
MILVAULT_TEST_MILVUS_ROOT=$work/milvus-local/data MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test local_storage -- --test-threads=2
echo "== portal in Chromium (end2end/)"
portal_env=(MINIO_ROOT_PATH="$work/milvus-local/data" MINIO_BACKUP_ROOT_PATH="$work/portal-backups"
  LEPTOS_SITE_ROOT="$repo/target/site")
env "${portal_env[@]}" setsid target/release/milvault serve --addr 127.0.0.1:3000 \
  --job-db "$work/portal-state/jobs.sqlite" >"$work/portal.log" 2>&1 &
pgids+=("$!")
env "${portal_env[@]}" MILVUS_PORT=1 setsid target/release/milvault serve --addr 127.0.0.1:3002 \
  --job-db "$work/portal-down/jobs.sqlite" >"$work/portal-down.log" 2>&1 &
pgids+=("$!")
# a third server with sign-in: an admin and a member of the `shop` database
auth_db="$work/portal-auth/jobs.sqlite"
printf 'e2e admin password\n' | target/release/milvault user add root --role admin --job-db "$auth_db" >/dev/null
printf 'e2e alice password\n' | target/release/milvault user add alice --role member --databases shop --job-db "$auth_db" >/dev/null
admin_token=$(target/release/milvault user token root --label e2e --job-db "$auth_db")
env "${portal_env[@]}" MINIO_BACKUP_ROOT_PATH="$work/portal-auth-backups" setsid target/release/milvault serve \
  --addr 127.0.0.1:3004 --auth --no-scheduler --job-db "$auth_db" >"$work/portal-auth.log" 2>&1 &
pgids+=("$!")
for _ in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:3000/ && curl -sf -o /dev/null http://127.0.0.1:3002/ \
  && curl -sf -o /dev/null http://127.0.0.1:3004/api/v2/health && break; sleep 0.5; done
mkdir -p test-output/screenshots
( cd end2end && MILVAULT_PORTAL_URL=http://127.0.0.1:3000 MILVAULT_DOWN_URL=http://127.0.0.1:3002 \
    MILVAULT_AUTH_URL=http://127.0.0.1:3004 MILVAULT_AUTH_ADMIN_TOKEN="$admin_token" \
    MILVAULT_E2E_BACKUPS="$work/portal-backups" MILVAULT_E2E_SHOTS="$repo/test-output/screenshots" \
    npm test ) || { echo "portal log:" >&2; tail -40 "$work/portal.log" >&2;
    echo "signed-in portal log:" >&2; tail -40 "$work/portal-auth.log" >&2; exit 1; }
echo "== the README's API examples (curl, buf curl) against the portal's server"
bash scripts/api-examples.sh http://127.0.0.1:3000 || { echo "portal log:" >&2; tail -40 "$work/portal.log" >&2; exit 1; }
echo "== Milvus dying during a restore"
MILVAULT_TEST_MILVUS_ROOT=$work/milvus-local/data MILVAULT_TEST_WORK=$work MILVAULT_TEST_MILVUS_PGID=$local_pg \
  cargo test --quiet --test milvus_dies
stop_all

echo "== Milvus on S3 (SeaweedFS)"
wait_port_free
pgids+=("$(bash "$testenv/start-s3.sh" "$work/s3" 9000)")
wait_s3_ready 9000 || { tail -n 30 "$work/s3/weed.log" >&2; exit 1; }
pgids+=("$(start_milvus "$testenv/start-milvus.sh" "$work/milvus-s3" s3 9000)")
wait_milvus_ready "$work/milvus-s3"
python "$testenv/seed.py" >/dev/null
python tests/support/seed_extra.py
MILVAULT_TEST_S3=http://127.0.0.1:9000 MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test s3_storage -- --test-threads=2
echo "== verification, schedules and retention (Milvus on S3)"
MILVAULT_TEST_S3=http://127.0.0.1:9000 MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test policies -- --test-threads=3
echo "== REST and gRPC APIs (Milvus on S3)"
MILVAULT_TEST_S3=http://127.0.0.1:9000 MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test api -- --test-threads=4
echo "== sign-in, roles, CSRF, tokens and audit (Milvus on S3)"
MILVAULT_TEST_S3=http://127.0.0.1:9000 MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test auth -- --test-threads=2
stop_all

echo "== signing in with Milvus' own users (Milvus with authorization on)"
pgids+=("$(start_milvus tests/support/start-milvus-auth.sh "$work/milvus-auth")")
wait_milvus_ready "$work/milvus-auth"
python tests/support/milvus_rbac.py
MILVAULT_TEST_MILVUS_ROOT=$work/milvus-auth/data MILVAULT_TEST_WORK=$work \
  cargo test --quiet --test milvus_sign_in
