#!/usr/bin/env bash
# Benchmark (not a test): restore time of one binlog backup of a collection with SEGMENTS sealed
# segments (default 8, one flush per segment, ROWS default 160000 x DIM default 128) at
# backup.parallelism.importJob = 1 2 4 8 (IMPORT_JOBS), each into a collection renamed with the
# suffix _ij<N>; prints seconds and rows/s per setting and checks each restored collection holds the
# backup's row count (the restore's own check, then pymilvus num_entities). The restored
# collections and the backup are dropped/removed at the end; rs_bench stays unless KEEP=0.
# Same servers as scale_s3.sh: Milvus 127.0.0.1:19530 (binlogs in a-bucket under "files"),
# SeaweedFS S3 at S3_ENDPOINT (default http://127.0.0.1:9000), backups into bucket "milvault".
# MILVAULT_BIN: the binary (default target/release/milvault, built if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-160000}
dim=${DIM:-128}
segments=${SEGMENTS:-8}
jobs_list=${IMPORT_JOBS:-1 2 4 8}
endpoint=${S3_ENDPOINT:-http://127.0.0.1:9000}
port=${endpoint##*:}
py=${MILVAULT_PYTHON:-$HOME/.cache/milvault/venv/bin/python}
coll=rs_bench
work=$(mktemp -d /tmp/milvault-restore-bench.XXXXXX)
root=bench_imports_$(date +%s)
bin=${MILVAULT_BIN:-$repo/target/release/milvault}
if [ ! -x "$bin" ]; then (cd "$repo" && cargo build --release --bin milvault >/dev/null); fi

sets=(--set minio.storageType=minio --set minio.backupStorageType=minio
  --set minio.address=127.0.0.1 --set minio.port="$port"
  --set minio.accessKeyID=minioadmin --set minio.secretAccessKey=minioadmin
  --set minio.bucketName=a-bucket --set minio.rootPath=files
  --set minio.backupBucketName=milvault --set minio.backupRootPath="$root")
mv_() { "$bin" --job-db "$work/jobs.sqlite" "${sets[@]}" "$@"; }

restored=()
cleanup() {
  if [ "${#restored[@]}" -gt 0 ]; then
    "$py" - "${restored[@]}" <<'PY' || true
import sys
from pymilvus import connections, utility
connections.connect(uri="http://127.0.0.1:19530")
for n in sys.argv[1:]:
    if utility.has_collection(n):
        utility.drop_collection(n)
PY
  fi
  mv_ delete -n imports >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "seeding $coll: $segments segments of $((rows / segments)) rows x $dim floats" >&2
"$py" - "$coll" "$rows" "$dim" "$segments" <<'PY' >&2
import sys, numpy as np
from pymilvus import connections, utility, Collection, CollectionSchema, FieldSchema, DataType
name, rows, dim, segs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
connections.connect(uri="http://127.0.0.1:19530")
if utility.has_collection(name):
    c = Collection(name)
    if c.num_entities == rows:
        print(f"{name} exists with {rows} rows"); sys.exit(0)
    utility.drop_collection(name)
c = Collection(name, CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("v", DataType.FLOAT_VECTOR, dim=dim)]), shards_num=1)
rng = np.random.default_rng(3)
per = rows // segs
for s in range(segs):
    n = per if s < segs - 1 else rows - per * (segs - 1)
    start = s * per
    for b in range(start, start + n, 20000):
        k = min(20000, start + n - b)
        c.insert([list(range(b, b + k)), rng.random((k, dim), dtype=np.float32)])
    c.flush()  # one sealed segment per round
print(f"{name}: {c.num_entities} rows")
PY

mv_ create -n imports -c "$coll" -f >"$work/create.out" 2>"$work/create.err" || {
  cat "$work/create.err" >&2; exit 1; }
tail -n 3 "$work/create.out" >&2

printf '%-10s %8s %10s %9s  %s\n' importJob seconds rows/s segments check
for n in $jobs_list; do
  target=${coll}_ij$n
  restored+=("$target")
  t0=$(date +%s.%N)
  "$bin" --job-db "$work/jobs.sqlite" "${sets[@]}" --set backup.parallelism.importJob="$n" \
    restore -n imports -s "_ij$n" >"$work/restore.out" 2>"$work/restore.err" || {
    cat "$work/restore.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  line=$(grep "^restored " "$work/restore.out" | tail -n 1)
  nseg=$(sed -E 's/.*: ([0-9]+) segments;.*/\1/' <<<"$line")
  check=${line#*segments; }
  # the backup's count next to what Milvus holds now
  "$py" - "$coll" "$target" "$t0" "$t1" "$n" "$nseg" "$check" <<'PY'
import sys
from pymilvus import connections, Collection
src, dst, t0, t1, n, nseg, check = sys.argv[1:]
connections.connect(uri="http://127.0.0.1:19530")
want = Collection(src).num_entities
c = Collection(dst); c.flush(); got = c.num_entities
secs = float(t1) - float(t0)
ok = "ok" if got == want else f"MISMATCH: {got} of {want} rows"
print(f"{n:<10} {secs:8.2f} {got / secs:10.0f} {nseg:>9}  {check}; num_entities {got} ({ok})")
if got != want:
    sys.exit(1)
PY
done

if [ "${KEEP:-1}" = 0 ]; then
  "$py" -c "
from pymilvus import connections, utility
connections.connect(uri='http://127.0.0.1:19530'); utility.drop_collection('$coll')"
fi
