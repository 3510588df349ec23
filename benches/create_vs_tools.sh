#!/usr/bin/env bash
# Benchmark (not a test), issue 29: `milvault create` beside the plain tools copying the same
# binlogs, in one run, best of RUNS (default 2), MB/s and peak RSS of each:
#   streamed into a local directory  vs  `rclone copy --transfers 16` and `aws s3 cp --recursive`
#                                         of the collection's binlog prefixes into a local directory
#   server-side into a second bucket  vs  `aws s3 cp --recursive` bucket to bucket (and rclone)
# Starts its own SeaweedFS (S3_PORT, default 9000) and Milvus 2.3.5 on it, seeds ROWS rows
# (default 400000) of DIM floats (default 256) into one collection. milvault's time is the whole
# command (connect, flush, describe, list, copy, checksums, metadata); the tools' is the copy only.
# MILVAULT_BIN picks the binary (default target/release/milvault, built if missing).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rows=${ROWS:-400000}
dim=${DIM:-256}
runs=${RUNS:-2}
port=${S3_PORT:-9000}
bin=${MILVAULT_BIN:-$repo/target/release/milvault}
[ -x "$bin" ] || (cd "$repo" && cargo build --release --bin milvault >/dev/null)
bash "$repo/scripts/install-test-deps.sh" >/dev/null
cache=${MILVAULT_CACHE:-$HOME/.cache/milvault}
export PATH=$cache/venv/bin:$PATH
command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone >/dev/null; }
awsvenv=$cache/bench-awscli
[ -x "$awsvenv/bin/aws" ] || { python3 -m venv "$awsvenv" && "$awsvenv/bin/pip" install -q awscli; }
export AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin AWS_DEFAULT_REGION=us-east-1
aws() { env -u AWS_CA_BUNDLE "$awsvenv/bin/aws" --endpoint-url "http://127.0.0.1:$port" "$@"; }

source "$repo/scripts/testenv/lib.sh"
work=$(mktemp -d /tmp/milvault-create-bench.XXXXXX)
pgids=()
trap 'stop_groups "${pgids[@]}"; rm -rf "$work"' EXIT
wait_milvus_ports_free
pgids+=("$(start_s3 "$work/s3" "$port")")
wait_s3_ready "$port"
pgids+=("$(start_milvus "$work/milvus" s3 "$port")")
wait_milvus_ready "$work/milvus"
echo "seeding sc_bench: $rows rows x $dim floats" >&2
python "$repo/tests/support/seed_big.py" sc_bench "$rows" "$dim" >/dev/null
cid=$(python -c "
from pymilvus import connections, Collection
connections.connect(uri='http://127.0.0.1:19530')
print(Collection('sc_bench').describe()['collection_id'])")
# the prefixes a backup of the collection reads (insert and delta logs)
prefixes=()
for kind in insert_log delta_log; do
  if aws s3 ls "s3://a-bucket/files/$kind/$cid/" >/dev/null 2>&1; then prefixes+=("$kind/$cid"); fi
done

cat > "$work/rclone.conf" <<CONF
[s3]
type = s3
provider = Other
endpoint = http://127.0.0.1:$port
access_key_id = minioadmin
secret_access_key = minioadmin
CONF
sets=(--set minio.storageType=minio --set minio.address=127.0.0.1 --set minio.port="$port"
  --set minio.accessKeyID=minioadmin --set minio.secretAccessKey=minioadmin
  --set minio.bucketName=a-bucket --set minio.rootPath=files)
to_local=(--set minio.backupStorageType=local --set minio.backupRootPath="$work/local")
to_bucket=(--set minio.backupStorageType=minio --set minio.backupBucketName=milvault --set minio.backupRootPath=bench)

# measure CMD...: prints "seconds peak_rss_kib"
measure() {
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}
# the tools copy the same prefixes, one after the other, into DEST_ROOT
cat > "$work/rclone.sh" <<SH
for p in ${prefixes[*]}; do
  env -u AWS_CA_BUNDLE rclone --config $work/rclone.conf copy s3:a-bucket/files/\$p \$1/\$p --transfers 16 --checkers 16 || exit 1
done
SH
cat > "$work/aws.sh" <<SH
for p in ${prefixes[*]}; do
  env -u AWS_CA_BUNDLE $awsvenv/bin/aws --endpoint-url http://127.0.0.1:$port s3 cp --quiet --recursive s3://a-bucket/files/\$p/ \$1/\$p/ || exit 1
done
SH
declare -A t
for i in $(seq 1 "$runs"); do
  t[ml]+=" $(measure "$bin" --job-db "$work/j.sqlite" "${sets[@]}" "${to_local[@]}" create -n "l$i" -c sc_bench -f)"
  t[rl]+=" $(measure bash "$work/rclone.sh" "$work/rclone_$i")"
  t[al]+=" $(measure bash "$work/aws.sh" "$work/aws_$i")"
  t[ms]+=" $(measure "$bin" --job-db "$work/j.sqlite" "${sets[@]}" "${to_bucket[@]}" create -n "s$i" -c sc_bench -f)"
  t[as]+=" $(measure bash "$work/aws.sh" "s3://milvault/aws_$i")"
  t[rs]+=" $(measure bash "$work/rclone.sh" "s3:milvault/rclone_$i")"
done
bytes=$(du -sb "$work/local/l1/binlogs" | cut -f1)
files=$(find "$work/local/l1/binlogs" -type f | wc -l)
python3 - "$bytes" "$files" "$bin" "${t[ml]}" "${t[rl]}" "${t[al]}" "${t[ms]}" "${t[as]}" "${t[rs]}" <<'PY'
import sys
b, files, binary = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def runs(s):
    v = s.split()
    return [(float(v[i]), int(v[i + 1])) for i in range(0, len(v), 2)]
rows = [("milvault create, streamed into a local directory", sys.argv[4]),
        ("rclone copy --transfers 16, into a local directory", sys.argv[5]),
        ("aws s3 cp --recursive, into a local directory", sys.argv[6]),
        ("milvault create, server-side into a second bucket", sys.argv[7]),
        ("aws s3 cp --recursive, bucket to bucket", sys.argv[8]),
        ("rclone copy --transfers 16, bucket to bucket", sys.argv[9])]
print(f"binlogs: {b / 1e6:.1f} MB in {files} files; binary {binary}")
best = {}
for label, s in rows:
    r = runs(s); t = min(x[0] for x in r); best[label] = b / 1e6 / t
    print(f"{label:<52} {b / 1e6 / t:8.1f} MB/s  peak RSS {max(x[1] for x in r) / 1024:6.1f} MiB  ({', '.join(f'{x[0]:.2f} s' for x in r)})")
ml, ms = best[rows[0][0]], best[rows[3][0]]
print(f"ratio streamed / faster tool: {ml / max(best[rows[1][0]], best[rows[2][0]]):.2f}; "
      f"server-side / faster tool: {ms / max(best[rows[4][0]], best[rows[5][0]]):.2f}")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
