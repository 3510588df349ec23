#!/usr/bin/env bash
# Benchmark (not a test) of issue 15 on SeaweedFS S3, against the Milvus (127.0.0.1:19530) and
# SeaweedFS (S3_ENDPOINT, default http://127.0.0.1:9000, keys minioadmin) that scripts/testenv
# starts (Milvus' binlogs in bucket a-bucket under "files", backups into bucket "milvault").
#
#   1. `milvault create` into the second bucket (server-side copy across buckets) next to
#      `aws s3 cp --recursive` of the same objects (PyPI awscli, installed into a venv here)
#   2. the same backup streamed through milvault (backup endpoint named "localhost": not provably
#      the same endpoint), for the streaming path's throughput and memory
#   3. an incremental backup after 5% new rows: bytes read from Milvus' bucket and time vs full
#   4. a streamed backup killed (kill -9) at about half and resumed: bytes copied twice
#   and the peak RSS of milvault in each.
# ROWS (default 400000) x DIM (default 256) float rows in collection sc_bench (kept for the next
# run; KEEP=0 drops it). MILVAULT_BIN: the binary (default target/release/milvault, built if
# missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-400000}
dim=${DIM:-256}
endpoint=${S3_ENDPOINT:-http://127.0.0.1:9000}
port=${endpoint##*:}
py=${MILVAULT_PYTHON:-$HOME/.cache/milvault/venv/bin/python}
coll=sc_bench
work=$(mktemp -d /tmp/milvault-scale-bench.XXXXXX)
stamp=$(date +%s)
root=bench_$stamp
trap 'rm -rf "$work"' EXIT

bin=${MILVAULT_BIN:-$repo/target/release/milvault}
if [ ! -x "$bin" ]; then (cd "$repo" && cargo build --release --bin milvault >/dev/null); fi

# awscli from PyPI in a venv of its own
awsvenv=${MILVAULT_CACHE:-$HOME/.cache/milvault}/bench-awscli
if [ ! -x "$awsvenv/bin/aws" ]; then
  python3 -m venv "$awsvenv"
  "$awsvenv/bin/pip" install --quiet awscli
fi
export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin AWS_DEFAULT_REGION=us-east-1
aws() { "$awsvenv/bin/aws" --endpoint-url "$endpoint" "$@"; }

echo "seeding $coll: $rows rows x $dim floats (kept between runs)" >&2
"$py" "$repo/tests/support/seed_big.py" "$coll" "$rows" "$dim" >/dev/null
cid=$("$py" -c "
from pymilvus import connections, Collection
connections.connect(uri='http://127.0.0.1:19530')
print(Collection('$coll').describe()['collection_id'])")
prefix=files/insert_log/$cid
bytes=$(aws s3 ls --recursive --summarize "s3://a-bucket/$prefix/" | awk '/Total Size/ {print $3}')

sets=(--set minio.storageType=minio --set minio.backupStorageType=minio
  --set minio.address=127.0.0.1 --set minio.port="$port"
  --set minio.accessKeyID=minioadmin --set minio.secretAccessKey=minioadmin
  --set minio.bucketName=a-bucket --set minio.rootPath=files
  --set minio.backupBucketName=milvault --set minio.backupRootPath="$root")
mv_() { "$bin" --job-db "$work/jobs.sqlite" "${sets[@]}" "$@"; }

# runs a command under /usr/bin/time; prints "seconds peak_kib"
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
    cat "$work/err" >&2; return 1; }
  cat "$work/time"
}
meta() { # NAME FIELD: a field of the backup's milvault record
  aws s3 cp --quiet "s3://milvault/$root/$1/meta/backup_meta.json" - | "$py" -c "
import json, sys; m = json.load(sys.stdin).get('milvault', {}); print(m.get('$2', 0))"
}

echo "1. aws s3 cp --recursive vs milvault create (server-side across buckets)" >&2
t0=$(date +%s.%N)
aws s3 cp --quiet --recursive "s3://a-bucket/$prefix/" "s3://milvault/$root/aws-copy/"
t1=$(date +%s.%N)
read -r full_s full_kib < <(timed "$bin" --job-db "$work/jobs.sqlite" "${sets[@]}" create -n full -c "$coll" -f)
full_mode=$(meta full copy_mode)
# what milvault copied: the live segments (the prefix also holds files of segments Milvus has
# compacted away and not yet collected, which aws copies too)
full_size=$(aws s3 ls --recursive --summarize "s3://milvault/$root/full/binlogs/" | awk '/Total Size/ {print $3}')

echo "2. the same backup streamed" >&2
sets_stream=("${sets[@]}" --set minio.backupAddress=localhost)
mvs() { "$bin" --job-db "$work/jobs.sqlite" "${sets_stream[@]}" "$@"; }
read -r stream_s stream_kib < <(timed "$bin" --job-db "$work/jobs.sqlite" "${sets_stream[@]}" create -n streamed -c "$coll" -f)

echo "3. incremental after 5% new rows" >&2
"$py" "$repo/tests/support/seed_big.py" "$coll" "$rows" "$dim" --append $((rows / 20)) >/dev/null
read -r inc_s inc_kib < <(timed "$bin" --job-db "$work/jobs.sqlite" "${sets[@]}" create -n inc -c "$coll" -f --incremental)
inc_size=$(aws s3 ls --recursive --summarize "s3://milvault/$root/inc/binlogs/" | awk '/Total Size/ {print $3}')
inc_from_base=$(meta inc bytes_from_base)

echo "4. a streamed backup killed at about half, then resumed" >&2
total=$(aws s3 ls --recursive --summarize "s3://a-bucket/files/insert_log/$cid/" | awk '/Total Size/ {print $3}')
# two files at a time, so that the kill lands before the end; the binary itself in the background
# (not the mvs function, which would run in a subshell: $! would be the subshell and kill -9 would
# leave milvault running on, copying past the "kill")
"$bin" --job-db "$work/jobs.sqlite" "${sets_stream[@]}" --set backup.parallelism.copydata=2 \
  create -n killed -c "$coll" -f >/dev/null 2>&1 &
pid=$!
# at half of the time the streamed backup took (objects appear whole, so what is stored at the
# kill is the files finished by then)
sleep "$("$py" -c "print($stream_s * 0.5)")"
kill -9 "$pid" 2>/dev/null || { echo "the backup ended before the kill" >&2; exit 1; }
wait "$pid" 2>/dev/null || true
stored=$(aws s3 ls --recursive --summarize "s3://milvault/$root/killed/binlogs/" 2>/dev/null | awk '/Total Size/ {print $3}')
# another job database: the killed process' claim on the name lasts 30 s after its last beat
read -r res_s res_kib < <(timed "$bin" --job-db "$work/jobs-resume.sqlite" "${sets_stream[@]}" --set backup.parallelism.copydata=2 create --resume killed)
kept=$(meta killed bytes_resumed)
killed_size=$(aws s3 ls --recursive --summarize "s3://milvault/$root/killed/binlogs/" | awk '/Total Size/ {print $3}')

"$py" - "$bytes" "$t0" "$t1" "$full_s" "$full_kib" "$full_mode" "$stream_s" "$stream_kib" \
  "$inc_s" "$inc_kib" "$inc_size" "$inc_from_base" "${stored:-0}" "$kept" "$killed_size" "$res_s" "$res_kib" "$full_size" <<'PY'
import sys
a = sys.argv[1:]
b = int(a[0]); mb = b / 1e6
t_aws = float(a[2]) - float(a[1])
full_s, full_kib, mode = float(a[3]), int(a[4]), a[5]
stream_s, stream_kib = float(a[6]), int(a[7])
inc_s, inc_kib, inc_size, inc_base = float(a[8]), int(a[9]), int(a[10]), int(a[11])
stored, kept, killed_size, res_s, res_kib = int(a[12]), int(a[13]), int(a[14]), float(a[15]), int(a[16])
fmb = int(a[17]) / 1e6
mib = lambda k: k / 1024
print(f"insert binlogs of sc_bench: {mb:.1f} MB")
print(f"{'':34} {'time':>8} {'MB/s':>8} {'peak RSS':>10}")
print(f"{'aws s3 cp --recursive':34} {t_aws:7.2f}s {mb / t_aws:8.1f} {'-':>10}")
print(f"{'milvault create (' + mode + ')':34} {full_s:7.2f}s {fmb / full_s:8.1f} {mib(full_kib):7.1f} MiB  ({fmb:.1f} MB of live segments)")
print(f"  ratio milvault / aws (MB/s): {(fmb / full_s) / (mb / t_aws):.2f}  (milvault's time includes flush, describe, manifest checksums, metadata)")
print(f"{'milvault create (stream)':34} {stream_s:7.2f}s {fmb / stream_s:8.1f} {mib(stream_kib):7.1f} MiB")
read = inc_size - inc_base
print(f"incremental after 5% new rows:  {inc_s:.2f}s vs full {full_s:.2f}s; read from Milvus' bucket {read / 1e6:.1f} of {inc_size / 1e6:.1f} MB ({100 * read / max(inc_size, 1):.1f}%), peak RSS {mib(inc_kib):.1f} MiB")
print(f"killed at {100 * stored / max(killed_size, 1):.0f}% ({stored / 1e6:.1f} MB stored), resumed in {res_s:.2f}s: kept {kept / 1e6:.1f} MB, copied twice {(stored - kept) / 1e6:.1f} MB (+ parts in flight at the kill), peak RSS {mib(res_kib):.1f} MiB")
PY

# clean up what this run stored (the collection stays for the next run unless KEEP=0)
aws s3 rm --quiet --recursive "s3://milvault/$root/"
if [ "${KEEP:-1}" = 0 ]; then
  "$py" -c "
from pymilvus import connections, utility
connections.connect(uri='http://127.0.0.1:19530'); utility.drop_collection('$coll')"
fi
