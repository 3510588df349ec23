#!/usr/bin/env bash
# Benchmark (not a test), issue 29: the time `milvault create` spends before its first byte is
# copied (flush, describe, listing each segment's folders) on a collection of many small sealed
# segments, for each binary in BINS (default: target/release/milvault), RUNS times (default 3).
# Starts its own SeaweedFS (S3_PORT, default 9000) and Milvus 2.3.5 on it with 1-MB segments and
# no compaction, and seeds ROWS rows (default 200000) of 128 floats: about 100 segments.
# COLLECTIONS=N (default 1) spreads the rows over N collections, and FRESH=K (default 0) inserts
# K rows into each collection before every run without flushing them, so that every backup has
# N collections to flush: what the pipelined create overlaps with its copies.
# Prints, per binary and run: seconds to the first copy (from the "collections:" log line to the
# first "copying" one), whole seconds, segments and files.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-200000}
runs=${RUNS:-3}
port=${S3_PORT:-9000}
bins=${BINS:-$repo/target/release/milvault}
bash "$repo/scripts/install-test-deps.sh" >/dev/null
export PATH=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv/bin:$PATH
source "$repo/scripts/testenv/lib.sh"
work=$(mktemp -d /tmp/milvault-plan-bench.XXXXXX)
pgids=()
trap 'stop_groups "${pgids[@]}"; rm -rf "$work"' EXIT
wait_milvus_ports_free
pgids+=("$(start_s3 "$work/s3" "$port")")
wait_s3_ready "$port"
pgids+=("$(start_milvus "$work/milvus" s3 "$port" --extra-config dataCoord.segment.maxSize=1 \
  --extra-config dataCoord.enableCompaction=false --extra-config dataCoord.compaction.enableAutoCompaction=false)")
wait_milvus_ready "$work/milvus"
colls=${COLLECTIONS:-1}
fresh=${FRESH:-0}
names=()
for c in $(seq 1 "$colls"); do names+=("plan_bench_$c"); done
echo "seeding ${names[*]}: $rows rows in all, in 1-MB segments" >&2
for n in "${names[@]}"; do python "$repo/tests/support/seed_big.py" "$n" $((rows / colls)) 128 >/dev/null; done
list=$(IFS=,; echo "${names[*]}")
sets=(--set minio.storageType=minio --set minio.address=127.0.0.1 --set minio.port="$port"
  --set minio.accessKeyID=minioadmin --set minio.secretAccessKey=minioadmin
  --set minio.bucketName=a-bucket --set minio.rootPath=files
  --set minio.backupStorageType=minio --set minio.backupBucketName=milvault)
n=0
# the binaries take turns, so that each sees about as many segments as the one before it
for i in $(seq 1 "$runs"); do
  for bin in $bins; do
    n=$((n + 1))
    if [ "$fresh" -gt 0 ]; then
      python - "$fresh" "${names[@]}" <<'PY'
import sys
import numpy as np
from pymilvus import connections, Collection
connections.connect(uri="http://127.0.0.1:19530")
k = int(sys.argv[1]); rng = np.random.default_rng()
for name in sys.argv[2:]:
    c = Collection(name)
    start = 10_000_000 + int(rng.integers(0, 1_000_000_000))
    c.insert([list(range(start, start + k)), rng.random((k, 128), dtype=np.float32)])
PY
    fi
    t0=$(date +%s.%N)
    MILVAULT_LOG=milvault=info NO_COLOR=1 "$bin" --job-db "$work/j.sqlite" "${sets[@]}" \
      --set minio.backupRootPath="run$n" create -n "p$n" -c "$list" -f >"$work/out" 2>"$work/log"
    t1=$(date +%s.%N)
    python3 - "$bin" "$t0" "$t1" "$work/log" <<'PY'
import re, sys
from datetime import datetime
binary, t0, t1, log = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def at(pattern):
    for line in open(log):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if re.search(pattern, line):
            return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
    raise SystemExit(f"no '{pattern}' in {log}")
plan = at(r"progress: copying \d+ files") - at(r"progress: collections: ")  # the first copy
m = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in open(log) if "complete:" in l][-1]
segs = re.search(r"(\d+) segments", m).group(1)
files = sum(int(f) for f in re.findall(r"progress: copying (\d+) files", open(log).read()))
print(f"{binary}: first copy after {plan:.3f} s, whole {t1 - t0:.2f} s, {segs} segments, {files} files")
PY
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
