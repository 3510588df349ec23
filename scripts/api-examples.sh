#!/usr/bin/env bash
# Runs the README's API examples against a running `milvault serve` (default http://127.0.0.1:3000)
# whose Milvus has the demo collection demo_products, and fails when one of them does not do what
# the README says. The gRPC examples use `buf curl` (npm @bufbuild/buf, installed in end2end/), a
# third-party client that, like grpcurl, finds the API through server reflection.
set -euo pipefail
base=${1:-http://127.0.0.1:3000}
repo=$(cd "$(dirname "$0")/.." && pwd)
buf=$repo/end2end/node_modules/.bin/buf
[ -x "$buf" ] || { echo "missing $buf: run npm ci in end2end/" >&2; exit 1; }
name=readme_$(date +%s)_$$
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
fail() { echo "api-examples: $*" >&2; exit 1; }

echo "-- REST v1 (milvus-backup's API): back up demo_products"
out=$(curl -sf -X POST "$base/api/v1/create" -H 'Content-Type: application/json' \
  -d "{\"backup_name\": \"$name\", \"collection_names\": [\"demo_products\"]}")
[ "$(echo "$out" | field '["data"]["state_code"]')" = 2 ] || fail "create did not succeed: $out"

echo "-- REST v1: list and get"
curl -sf "$base/api/v1/list" | grep -q "\"$name\"" || fail "list does not show $name"
size=$(curl -sf "$base/api/v1/get_backup?backup_name=$name" | field '["data"]["size"]')
[ "$size" -gt 0 ] || fail "backup $name has size $size"

echo "-- REST v1: restore under another name in the background, follow it to the end"
out=$(curl -sf -X POST "$base/api/v1/restore" -H 'Content-Type: application/json' \
  -d "{\"async\": true, \"backup_name\": \"$name\", \"collection_suffix\": \"_api_$$\"}")
id=$(echo "$out" | field '["data"]["id"]')
state=1
for _ in $(seq 1 300); do
  state=$(curl -sf "$base/api/v1/get_restore?id=$id" | field '["data"].get("state_code", 0)')
  [ "$state" -ge 2 ] && break
  sleep 1
done
[ "$state" = 2 ] || fail "restore $id ended in state $state"

echo "-- REST v2: a page of backups, a job"
curl -sf "$base/api/v2/backups?limit=5" | field '["page"]["total"]' >/dev/null
curl -sf "$base/api/v2/jobs/$id" | grep -q '"state":"succeeded"' || fail "job $id is not succeeded"
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v2/backups/no_such_backup")
[ "$status" = 404 ] || fail "an unknown backup answered $status"

echo "-- gRPC: services by reflection, a backup followed with WatchJob"
"$buf" curl --protocol grpc --http2-prior-knowledge --list-methods "$base" \
  | grep -q 'milvault.v1.BackupService/WatchJob' || fail "reflection does not list WatchJob"
out=$("$buf" curl --protocol grpc --http2-prior-knowledge \
  -d "{\"name\": \"${name}_grpc\", \"collections\": [\"demo_products\"]}" \
  "$base/milvault.v1.BackupService/CreateBackup")
id=$(echo "$out" | field '["id"]')
"$buf" curl --protocol grpc --http2-prior-knowledge -d "{\"id\": \"$id\"}" \
  "$base/milvault.v1.BackupService/WatchJob" | grep -q JOB_STATE_SUCCEEDED \
  || fail "WatchJob did not end in JOB_STATE_SUCCEEDED"

echo "-- clean up"
curl -sf -X DELETE "$base/api/v1/delete?backup_name=$name" >/dev/null
"$buf" curl --protocol grpc --http2-prior-knowledge -d "{\"name\": \"${name}_grpc\"}" \
  "$base/milvault.v1.BackupService/DeleteBackup" >/dev/null
echo "api-examples: all passed"
