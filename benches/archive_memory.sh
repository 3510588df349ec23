#!/usr/bin/env bash
# Peak memory and throughput of `milvault export` and `milvault import` (issue 29): a backup
# padded with one large binlog (SIZE_MB, default 1024) plus many small ones is exported to a .tar
# and a .tar.zst under /usr/bin/time -v, then each archive is imported into an empty second
# directory; prints MB/s and peak RSS of each. Needs no Milvus: both use only the backup storage
# (local directories here). The import part needs b3sum (`cargo install b3sum`) to write the
# padded backup's manifest; it is skipped without. MILVAULT_BIN picks the binary (default: the
# debug one).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${MILVAULT_BIN:-$repo/target/debug/milvault}
size_mb=${SIZE_MB:-1024}
small=${SMALL_FILES:-2000}
work=$(mktemp -d /tmp/milvault-archive-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/backups
name=bench_archive
dir=$root/$name
mkdir -p "$dir/meta" "$dir/binlogs/insert_log/1/2/3/100" "$dir/binlogs/insert_log/1/2/3/101"
# the large file: incompressible, so the zstd runs measure the compressor at its worst
head -c "$((size_mb << 20))" /dev/urandom > "$dir/binlogs/insert_log/1/2/3/100/1"
for i in $(seq 1 "$small"); do
  head -c 4096 /dev/zero > "$dir/binlogs/insert_log/1/2/3/101/$i"
done
have_b3=0
if command -v b3sum >/dev/null; then
  have_b3=1
  (cd "$dir" && find binlogs -type f -print0 | xargs -0 b3sum | python3 -c '
import json, os, sys
files = {}
for line in sys.stdin:
    h, p = line.rstrip("\n").split("  ", 1)
    files[p] = {"size": os.path.getsize(p), "blake3": h}
print(json.dumps({"version": 1, "algorithm": "blake3", "files": files}))
') > "$dir/meta/milvault_manifest.json"
fi
meta='{"id":"bench","name":"'$name'","backup_timestamp":1,"collection_backups":[]}'
printf '%s' "$meta" > "$dir/meta/full_meta.json"
printf '%s' "$meta" > "$dir/meta/backup_meta.json"
total=$(du -sb "$dir" | cut -f1)

# milvault ARGS... on backup root $1 under /usr/bin/time; prints one line of figures
measure() {
  local label=$1 backups=$2; shift 2
  /usr/bin/time -v "$bin" --set minio.backupStorageType=local --set "minio.backupRootPath=$backups" \
    --set minio.storageType=local --set "minio.rootPath=$work" --job-db "$work/jobs.sqlite" \
    "$@" 2> "$work/time.txt" >/dev/null || { cat "$work/time.txt"; exit 1; }
  local secs rss
  secs=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}' |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  rss=$(grep 'Maximum resident set size' "$work/time.txt" | awk '{print $NF}')
  printf '%-16s %7.1f MB in %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n' "$label" \
    "$(echo "$total / 1000000" | bc -l)" "$secs" "$(echo "$total / 1000000 / $secs" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)"
}
echo "binary: $bin"
echo "backup: 1 file of $size_mb MiB (random) + $small files of 4 KiB, $total bytes"
for ext in tar tar.zst; do
  archive=$work/out.$ext
  measure "export .$ext" "$root" export -n "$name" -o "$archive"
  echo "  archive: $(stat -c %s "$archive") bytes"
  if [ "$have_b3" = 1 ]; then
    rm -rf "$work/imported"
    measure "import .$ext" "$work/imported" import "$archive" -n copy
  fi
  rm -f "$archive"
done
[ "$have_b3" = 1 ] || echo "import: skipped (no b3sum to write the manifest)"
