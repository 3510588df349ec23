#!/usr/bin/env bash
# Benchmark (not a test), issue 29: `milvault copy` between two S3 endpoints beside `rclone copy`
# of the same backup between the same two, MB/s and peak RSS of each, best of RUNS (default 2).
# The two endpoints are one SeaweedFS reached as http://127.0.0.1:PORT and http://localhost:PORT
# (two endpoints to both tools: neither can copy on the server, both stream every byte).
# The backup is synthetic, SIZE_MB (default 1024) in 16 MiB binlogs plus SMALL_FILES (default
# 1000) of 64 KiB, with a manifest: no Milvus needed. MILVAULT_BIN picks the binary (default: the
# debug one; BLAKE3 and zstd are optimized in it, see Cargo.toml). rclone 1.60 (Debian) refuses to
# start with AWS_CA_BUNDLE set (it cannot add a CA bundle to its transport), so it runs without.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${MILVAULT_BIN:-$repo/target/debug/milvault}
size_mb=${SIZE_MB:-1024}
small=${SMALL_FILES:-1000}
runs=${RUNS:-2}
port=${S3_PORT:-9300}
bash "$repo/scripts/install-test-deps.sh" >/dev/null
venv=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv
export PATH=$venv/bin:$PATH
command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone >/dev/null; }
python -c 'import blake3' 2>/dev/null || pip install -q blake3
source "$repo/scripts/testenv/lib.sh"
work=$(mktemp -d /tmp/milvault-copy-bench.XXXXXX)
s3_pg=$(start_s3 "$work/s3" "$port")
trap 'stop_groups "$s3_pg"; rm -rf "$work"' EXIT
wait_s3_ready "$port"

name=bench_copy
dir=$work/local/$name
mkdir -p "$dir/meta" "$dir/binlogs/insert_log/1/2/3/100" "$dir/binlogs/insert_log/1/2/3/101"
for i in $(seq 1 $((size_mb / 16))); do
  head -c $((16 << 20)) /dev/urandom > "$dir/binlogs/insert_log/1/2/3/100/$i"
done
for i in $(seq 1 "$small"); do head -c 65536 /dev/urandom > "$dir/binlogs/insert_log/1/2/3/101/$i"; done
(cd "$dir" && python - <<'PY'
import json, os, blake3
files = {}
for root, _, names in os.walk("binlogs"):
    for n in names:
        p = os.path.join(root, n)
        with open(p, "rb") as f:
            files[p] = {"size": os.path.getsize(p), "blake3": blake3.blake3(f.read()).hexdigest()}
json.dump({"version": 1, "algorithm": "blake3", "files": files}, open("meta/milvault_manifest.json", "w"))
meta = json.dumps({"id": "bench", "name": "bench_copy", "backup_timestamp": 1, "collection_backups": []})
open("meta/full_meta.json", "w").write(meta)
open("meta/backup_meta.json", "w").write(meta)
PY
)
bytes=$(du -sb "$dir" | cut -f1)

cat > "$work/backup.yaml" <<YAML
minio:
  backupStorageType: local
  backupRootPath: $work/local
storages:
  a: {storageType: minio, address: 127.0.0.1, port: $port, accessKeyID: minioadmin, secretAccessKey: minioadmin, bucketName: milvault, rootPath: a}
  b: {storageType: minio, address: localhost, port: $port, accessKeyID: minioadmin, secretAccessKey: minioadmin, bucketName: milvault, rootPath: b}
YAML
cat > "$work/rclone.conf" <<CONF
[a]
type = s3
provider = Other
endpoint = http://127.0.0.1:$port
access_key_id = minioadmin
secret_access_key = minioadmin
[b]
type = s3
provider = Other
endpoint = http://localhost:$port
access_key_id = minioadmin
secret_access_key = minioadmin
CONF
mv_() { "$bin" --config "$work/backup.yaml" --job-db "$work/jobs.sqlite" "$@"; }
# the source on endpoint a (local -> S3, streamed)
mv_ copy -n "$name" --to a >/dev/null

# measure CMD...: prints "seconds peak_rss_kib"
measure() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}
report() {
  python3 - "$bytes" "$@" <<'PY'
import sys
b = int(sys.argv[1]); label = sys.argv[2]
runs = [tuple(map(float, r.split())) for r in sys.argv[3:]]
best = min(runs)
print(f"{label:<44} {b / 1e6 / best[0]:8.1f} MB/s  peak RSS {max(r[1] for r in runs) / 1024:6.1f} MiB  "
      f"({', '.join(f'{r[0]:.2f} s' for r in runs)})")
PY
}
ours=(); theirs=()
for i in $(seq 1 "$runs"); do
  ours+=("$(measure "$bin" --config "$work/backup.yaml" --job-db "$work/jobs.sqlite" --storage a copy -n "$name" --to b --as "${name}_$i")")
  theirs+=("$(measure env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" copy "a:milvault/a/$name" "b:milvault/rclone_$i/$name" --transfers 16 --checkers 16)")
done
echo "backup: $((bytes / 1000000)) MB in $(find "$dir" -type f | wc -l) files; binary $(basename "$bin") ($bin)"
report "milvault copy (a -> b, streamed, checked)" "${ours[@]}"
report "rclone copy --transfers 16 (a -> b)" "${theirs[@]}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
