#!/usr/bin/env bash
# Peak memory and throughput of `milvault export` (issue 29): a backup padded with one large
# binlog (SIZE_MB, default 1024) plus many small ones is exported to a .tar and a .tar.zst under
# /usr/bin/time -v; prints MB/s and peak RSS of each. Needs no Milvus: export reads only the
# backup storage (a local directory here). MILVAULT_BIN picks the binary (default: the debug one).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${MILVAULT_BIN:-$repo/target/debug/milvault}
size_mb=${SIZE_MB:-1024}
small=${SMALL_FILES:-2000}
work=$(mktemp -d /tmp/milvault-archive-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/backups
name=bench_archive
mkdir -p "$root/$name/meta" "$root/$name/binlogs/insert_log/1/2/3/100" "$root/$name/binlogs/insert_log/1/2/3/101"
meta='{"id":"bench","name":"'$name'","backup_timestamp":1,"collection_backups":[]}'
printf '%s' "$meta" > "$root/$name/meta/backup_meta.json"
printf '%s' "$meta" > "$root/$name/meta/full_meta.json"
# the large file: incompressible, so the zstd run measures the compressor at its worst
head -c "$((size_mb << 20))" /dev/urandom > "$root/$name/binlogs/insert_log/1/2/3/100/1"
for i in $(seq 1 "$small"); do
  head -c 4096 /dev/zero > "$root/$name/binlogs/insert_log/1/2/3/101/$i"
done
total=$(du -sb "$root/$name" | cut -f1)
sets=(--set minio.backupStorageType=local --set "minio.backupRootPath=$root"
      --set minio.storageType=local --set "minio.rootPath=$work" --job-db "$work/jobs.sqlite")
run() {
  local out=$1
  /usr/bin/time -v "$bin" "${sets[@]}" export -n "$name" -o "$out" 2> "$work/time.txt" >/dev/null
  local secs rss
  secs=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$work/time.txt" | awk '{print $NF}')
  printf '%-10s %8.1f MB in %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB  archive %8.1f MB\n' \
    "$(basename "$out" | sed 's/^[^.]*\.//')" "$(echo "$total / 1000000" | bc -l)" "$secs" \
    "$(echo "$total / 1000000 / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)" \
    "$(echo "$(stat -c %s "$out") / 1000000" | bc -l)"
  rm -f "$out"
}
echo "binary: $bin"
echo "backup: 1 file of $size_mb MiB (random) + $small files of 4 KiB, $total bytes"
run "$work/out.tar"
run "$work/out.tar.zst"
