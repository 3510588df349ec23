#!/usr/bin/env bash
# Benchmark (not a test): a logical backup (`milvault create --logical`: Query pages in primary-key
# order into Parquet) and its restore (batched Insert) of ROWS rows x DIM-dim float vectors
# (default 200000 x 128) on Milvus 2.3.5, at two sizes (ROWS and ROWS_SMALL, default 50000) to
# show that milvault's memory does not grow with the collection. Prints rows/s, MB/s and peak RSS
# (/usr/bin/time -v) of each run. Backups go to a local folder.
#
# Starts its own Milvus (local storage, port 19530) unless MILVAULT_BENCH_MILVUS=HOST:PORT names one
# that runs already (then MILVAULT_BENCH_USER / MILVAULT_BENCH_PASSWORD sign in; its collections
# lg_bench_* are made and dropped here). MILVAULT_BIN picks the binary (default: a release build).
# FILE_BYTES / PAGE_BYTES set backup.logicalFileBytes / logicalPageBytes (defaults 64 MiB / 8 MiB):
# memory is bounded by about one row group (at most 16 MiB, or one file if smaller; row groups are
# streamed out and read back with ranged reads) plus a few pages, so compare sizes whose Parquet
# exceeds one file (e.g. FILE_BYTES=16777216 ROWS=400000 ROWS_SMALL=200000).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-200000}
rows_small=${ROWS_SMALL:-50000}
dim=${DIM:-128}
bash "$repo/scripts/install-test-deps.sh"
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$PATH
source "$repo/scripts/testenv/lib.sh"
work=$(mktemp -d /tmp/milvault-bench-logical.XXXXXX)
pg=
trap '[ -n "$pg" ] && stop_groups "$pg"; rm -rf "$work"' EXIT
if [ -n "${MILVAULT_BENCH_MILVUS:-}" ]; then
  host=${MILVAULT_BENCH_MILVUS%:*}; port=${MILVAULT_BENCH_MILVUS##*:}
else
  pg=$(start_milvus "$work/milvus" local)
  wait_milvus_ready "$work/milvus"
  host=127.0.0.1; port=19530
fi
user=${MILVAULT_BENCH_USER:-}; password=${MILVAULT_BENCH_PASSWORD:-}
bin=${MILVAULT_BIN:-$repo/target/release/milvault}
if [ -z "${MILVAULT_BIN:-}" ]; then
  (cd "$repo" && PATH=$HOME/.cargo/bin:$PATH cargo build --release --quiet --bin milvault)
fi
tag=$$
tuning=()
[ -n "${FILE_BYTES:-}" ] && tuning+=(--set "backup.logicalFileBytes=$FILE_BYTES")
[ -n "${PAGE_BYTES:-}" ] && tuning+=(--set "backup.logicalPageBytes=$PAGE_BYTES")
py() { python - "$host:$port" "$user" "$password" "$@"; }

seed() { # NAME ROWS
  py "$1" "$2" "$dim" <<'PY'
import sys, random
from pymilvus import connections, Collection, CollectionSchema, FieldSchema, DataType, utility
addr, user, password, name, rows, dim = sys.argv[1:7]
rows, dim = int(rows), int(dim)
connections.connect(uri=f"http://{addr}", user=user, password=password)
if utility.has_collection(name):
    utility.drop_collection(name)
rng = random.Random(1)
c = Collection(name, CollectionSchema([FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("v", DataType.FLOAT_VECTOR, dim=dim)]))
for s in range(0, rows, 10000):
    n = min(10000, rows - s)
    c.insert([list(range(s, s + n)), [[rng.random() for _ in range(dim)] for _ in range(n)]])
c.flush()
c.create_index("v", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
c.load()
PY
}

drop() { # NAME...
  py "$@" <<'PY'
import sys
from pymilvus import connections, utility
addr, user, password, *names = sys.argv[1:]
connections.connect(uri=f"http://{addr}", user=user, password=password)
for n in names:
    if utility.has_collection(n):
        utility.drop_collection(n)
PY
}

# runs milvault under /usr/bin/time; prints "seconds peak_rss_kb"
timed() {
  local log=$work/time.log
  /usr/bin/time -v "$bin" --job-db "$work/jobs.sqlite" --set MILVUS_ADDRESS="$host" --set MILVUS_PORT="$port" \
    --set MILVUS_USER="$user" --set MILVUS_PASSWORD="$password" \
    --set MINIO_ROOT_PATH="$work/unused" --set MINIO_BACKUP_ROOT_PATH="$work/backups" "${tuning[@]}" "$@" \
    >"$work/out.log" 2>"$log" || { cat "$work/out.log" "$log" >&2; return 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  python3 -c "import sys; p=sys.argv[1].split(':'); print(sum(float(x)*60**i for i,x in enumerate(reversed(p))), sys.argv[2])" "$wall" "$rss"
}

report() { # LABEL ROWS SECONDS RSS_KB BYTES
  python3 - "$@" <<'PY'
import sys
label, rows, secs, rss, nbytes = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
raw = rows * (8 + 4 * int(sys.argv[6])) / 1e6
print(f"{label:<28} {rows:>8} rows {secs:7.2f} s {rows / secs:>10.0f} rows/s "
      f"{raw / secs:7.1f} MB/s (raw row data, {raw:.0f} MB; Parquet {nbytes / 1e6:.0f} MB)  peak RSS {rss / 1024:.0f} MiB")
PY
}

for n in "$rows_small" "$rows"; do
  coll=lg_bench_${tag}_$n
  seed "$coll" "$n"
  read -r secs rss < <(timed create --logical -n "b$n" -c "$coll")
  bytes=$(du -sb "$work/backups/b$n/logical" | cut -f1)
  report "logical backup" "$n" "$secs" "$rss" "$bytes" "$dim"
  read -r secs rss < <(timed restore -n "b$n" -s _r)
  report "logical restore (Insert)" "$n" "$secs" "$rss" "$bytes" "$dim"
  drop "$coll" "${coll}_r"
done
