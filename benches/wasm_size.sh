#!/usr/bin/env bash
# What the portal's first page makes the browser fetch, raw and gzip -9 bytes per file: builds the
# site (scripts/build-site.sh) unless SITE_DIR already holds one, then follows the page's
# references into pkg/ and the static `import`s of the JS files among them. The lazy routes' WASM
# (split_*.wasm, chunk_*.wasm) is fetched only when such a page is first shown: listed apart.
#
#   bash benches/wasm_size.sh [SITE_DIR] [PAGE_URL]
#
# Without PAGE_URL the page's references are those every portal page has (HydrationScripts and
# the stylesheet: pkg/milvault.js, pkg/milvault_bg.wasm, pkg/milvault.css). With it (e.g.
# http://127.0.0.1:3000/ of a running `milvault serve` on this site) they are read off its HTML.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
site=${1:-}
if [ -z "$site" ]; then
  site=$(mktemp -d /tmp/milvault-site.XXXXXX)
  bash "$repo/scripts/build-site.sh" "$site" 2>&1 | grep -v 'unknown name subsection\|global index out of' >&2
fi
pkg=$site/pkg
[ -f "$pkg/milvault.js" ] || { echo "no site in $site" >&2; exit 1; }

if [ -n "${2:-}" ]; then
  mapfile -t refs < <(curl -fsS "$2" | grep -oE '(href|src)="/pkg/[^"]+"' | sed -E 's/.*"\/pkg\/([^"]+)"/\1/' | sort -u)
else
  refs=(milvault.js milvault_bg.wasm milvault.css)
fi

# the static imports of the JS files, transitively (`import ... from "./x.js"`, minified or not)
declare -A seen=()
queue=("${refs[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "${seen[$f]:-}" ] && continue
  seen[$f]=1
  case $f in
    *.js)
      while read -r dep; do queue+=("${dep#./}"); done < <(grep -oE "import[^;'\"]*from *['\"]\./[^'\"]+['\"]" "$pkg/$f" |
        sed -E "s/.*from *['\"](\.\/[^'\"]+)['\"]/\1/")
      ;;
  esac
done

row() { printf '%-58s %10s %10s\n' "$1" "$2" "$3"; }
row file raw gzip-9
total_raw=0 total_gz=0 code_raw=0 code_gz=0
for f in $(printf '%s\n' "${!seen[@]}" | sort); do
  raw=$(stat -c %s "$pkg/$f")
  gz=$(gzip -9c "$pkg/$f" | wc -c)
  row "$f" "$raw" "$gz"
  total_raw=$((total_raw + raw)) total_gz=$((total_gz + gz))
  case $f in *.css) ;; *) code_raw=$((code_raw + raw)) code_gz=$((code_gz + gz)) ;; esac
done
row "first load, WASM + JS" "$code_raw" "$code_gz"
row "first load, all of the above" "$total_raw" "$total_gz"

lazy_raw=0 lazy_gz=0 n=0
for f in "$pkg"/split_*.wasm "$pkg"/chunk_*.wasm; do
  [ -f "$f" ] || continue
  lazy_raw=$((lazy_raw + $(stat -c %s "$f"))) lazy_gz=$((lazy_gz + $(gzip -9c "$f" | wc -c))) n=$((n + 1))
done
row "not fetched first: $n lazy modules, together" "$lazy_raw" "$lazy_gz"
