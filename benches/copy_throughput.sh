#!/usr/bin/env bash
# Benchmark (not a test): backup throughput of `milvault create` next to `cp -r` of the same binlogs
# on the same disk, in one run, and of `milvault verify` (re-reading and checksumming the backup). Starts a local-storage Milvus, writes ROWS rows (default 200000,
# dim 128) into one collection, then times both. Prints MB/s for each.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-200000}
bash "$repo/scripts/install-test-deps.sh"
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$PATH
source "$repo/scripts/testenv/lib.sh"
work=$(mktemp -d /tmp/milvault-bench.XXXXXX)
pg=$(start_milvus "$work/milvus" local)
trap 'stop_groups "$pg"; rm -rf "$work"' EXIT
wait_milvus_ready "$work/milvus"
python - "$rows" <<'PY'
import sys, random
from pymilvus import connections, Collection, CollectionSchema, FieldSchema, DataType
connections.connect(uri="http://127.0.0.1:19530")
rows = int(sys.argv[1]); rng = random.Random(1)
c = Collection("bench", CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("v", DataType.FLOAT_VECTOR, dim=128)]))
for s in range(0, rows, 20000):
    n = min(20000, rows - s)
    c.insert([list(range(s, s + n)), [[rng.random() for _ in range(128)] for _ in range(n)]])
c.flush()
PY
# the same release binary the portal uses (built by cargo-leptos, so the two builds do not undo each other)
MILVAULT_SKIP_BROWSER=1 bash "$repo/scripts/install-web-deps.sh"
(cd "$repo" && PATH=$HOME/.cargo/bin:$PATH cargo build --release --bin milvault >/dev/null 2>&1)
bin=$repo/target/release/milvault
src=$work/milvus/data
bytes=$(du -sb "$src/insert_log" | cut -f1)
sync; t0=$(date +%s.%N); cp -r "$src/insert_log" "$work/cp-copy"; sync; t1=$(date +%s.%N)
"$bin" --set MINIO_ROOT_PATH="$src" --set MINIO_BACKUP_ROOT_PATH="$work/backups" create -n bench -c bench -f >/dev/null
sync; t2=$(date +%s.%N)
"$bin" --set MINIO_ROOT_PATH="$src" --set MINIO_BACKUP_ROOT_PATH="$work/backups" verify -n bench >/dev/null
t3=$(date +%s.%N)
python3 - "$bytes" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
b, t0, t1, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:])
mb = b / 1e6
print(f"binlogs: {mb:.1f} MB")
print(f"cp -r:            {t1 - t0:6.2f} s  {mb / (t1 - t0):8.1f} MB/s")
print(f"milvault create:  {t2 - t1:6.2f} s  {mb / (t2 - t1):8.1f} MB/s  (incl. connect, describe, manifest checksums, metadata)")
print(f"milvault verify:  {t3 - t2:6.2f} s  {mb / (t3 - t2):8.1f} MB/s  (re-read + BLAKE3 of every binlog)")
PY
