#!/usr/bin/env bash
# Builds the portal's browser half into SITE_DIR (default target/site): the `app` crate compiled to
# WASM (hydrate), split by wasm-split-cli into the main module (the shell and the Backups page) and
# one module per lazy route (app/src/lib.rs) plus the chunks they share, loaded when a page is
# first shown; the main module's JS glue from wasm-bindgen; every module shrunk by wasm-opt and
# the JS glue minified by terser when they are installed; plus style/main.css as pkg/milvault.css and public/*. The server
# (`milvault serve`, any profile) serves it from --site-root / LEPTOS_SITE_ROOT. Needs what
# scripts/install-web-deps.sh installs.
#
#   bash scripts/build-site.sh [SITE_DIR]
#
# Without cargo-leptos the server expects wasm-bindgen's own file names (pkg/milvault.js,
# pkg/milvault_bg.wasm), which this script writes. The new pkg/ replaces the old one in one rename.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
site=${1:-target/site}
cache=${MILVAULT_CACHE:-$HOME/.cache/milvault}
front_target=${MILVAULT_FRONT_TARGET:-target/front}
export PATH=$HOME/.cargo/bin:$PATH

wasm_split=$cache/wasm-split/bin/wasm-split-cli
[ -x "$wasm_split" ] || { echo "no $wasm_split: run scripts/install-web-deps.sh" >&2; exit 1; }

# wasm-split needs the linker's relocations (a flag of the WASM build only: the server's build and
# its target dir are untouched)
RUSTFLAGS="${RUSTFLAGS:-} -Clink-args=--emit-relocs" \
  cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile wasm-release --target-dir "$front_target" --quiet
wasm=$front_target/wasm32-unknown-unknown/wasm-release/app.wasm

mkdir -p "$site"
new=$(mktemp -d "$site/.pkg.XXXXXX")
trap 'rm -rf "$new"' EXIT
# writes the main module (milvault.wasm, for wasm-bindgen), split_*.wasm and chunk_*.wasm, and
# __wasm_split.js, the loader the main module imports
"$wasm_split" --target web --out-name milvault "$wasm" "$new"
# (without its name section: wasm-opt 116 fails an assertion on the data segment names of a split
# main module)
wasm-bindgen --target web --no-typescript --keep-lld-exports --remove-name-section \
  --out-name milvault --out-dir "$new" "$new/milvault.wasm"
rm "$new/milvault.wasm"

wasm_opt=
if command -v wasm-opt >/dev/null && wasm-opt --version | grep -q 'version 116'; then
  wasm_opt=wasm-opt
elif [ -x "$cache/binaryen/node_modules/.bin/wasm-opt" ]; then
  wasm_opt=$cache/binaryen/node_modules/.bin/wasm-opt
fi
if [ -n "$wasm_opt" ]; then
  before=$(cat "$new"/*.wasm | wc -c)
  printf '%s\n' "$new"/*.wasm | xargs -P "$(nproc)" -I{} \
    "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int -o {}.opt {}
  for f in "$new"/*.wasm; do mv "$f.opt" "$f"; done
  echo "wasm-opt: $before -> $(cat "$new"/*.wasm | wc -c) bytes (all modules)," \
    "main $(stat -c %s "$new/milvault_bg.wasm")" >&2
else
  echo "no wasm-opt 116 found: the WASM is served unshrunk (scripts/install-web-deps.sh installs one)" >&2
fi
# the JS glue minified (about 3.4 KB gzip less of the first load), when terser is installed
terser=$cache/terser/node_modules/.bin/terser
if [ -x "$terser" ]; then
  for f in milvault.js __wasm_split.js; do
    "$terser" "$new/$f" --module --compress --mangle -o "$new/$f.min"
    mv "$new/$f.min" "$new/$f"
  done
else
  echo "no $terser: the JS glue is served unminified (scripts/install-web-deps.sh installs it)" >&2
fi
cp style/main.css "$new/milvault.css"
if [ -d public ]; then cp -r public/. "$site/"; fi
chmod 755 "$new"
rm -rf "$site/pkg.old"
if [ -d "$site/pkg" ]; then mv "$site/pkg" "$site/pkg.old"; fi
mv "$new" "$site/pkg"
rm -rf "$site/pkg.old"
echo "site built in $site" >&2
