#!/usr/bin/env bash
# Benchmark (not a test): what sign-in costs per API request. Starts `milvault serve --auth` (no
# Milvus needed) with one admin and one API token, then times N keep-alive requests without
# credentials, with the bearer token, and a jobs page with the token. Prints microseconds/request.
# Uses target/release/milvault (build it first: cargo build --release).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${MILVAULT_BIN:-$repo/target/release/milvault}
n=${N:-2000}
work=$(mktemp -d /tmp/milvault-authbench.XXXXXX)
printf 'bench password 1\n' | "$bin" user add root --role admin --job-db "$work/db.sqlite" >/dev/null
token=$("$bin" user token root --label bench --job-db "$work/db.sqlite")
MILVUS_PORT=1 MINIO_ROOT_PATH="$work/m" MINIO_BACKUP_ROOT_PATH="$work/b" setsid "$bin" serve \
  --addr 127.0.0.1:3199 --auth --no-scheduler --job-db "$work/db.sqlite" >"$work/log" 2>&1 &
pg=$!
trap 'kill -- -$pg 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf -o /dev/null http://127.0.0.1:3199/api/v2/health && break; sleep 0.2; done
python3 - "$token" "$n" <<'PY'
import http.client, sys, time
tok, n = sys.argv[1], int(sys.argv[2])
def run(path, headers):
    c = http.client.HTTPConnection("127.0.0.1", 3199)
    t = time.perf_counter()
    for _ in range(n):
        c.request("GET", path, headers=headers); r = c.getresponse(); r.read()
        assert r.status == 200, r.status
    return (time.perf_counter() - t) / n * 1e6
auth = {"Authorization": "Bearer " + tok}
print(f"{n} requests each, one keep-alive connection")
print(f"health, no credentials:  {run('/api/v2/health', {}):6.0f} us/request")
print(f"health, bearer token:    {run('/api/v2/health', auth):6.0f} us/request (token lookup)")
print(f"jobs page, bearer token: {run('/api/v2/jobs?limit=1', auth):6.0f} us/request")
PY
