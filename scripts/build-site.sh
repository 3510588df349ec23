#!/usr/bin/env bash
# Builds the portal's browser half into SITE_DIR (default target/site): the `app` crate compiled to
# WASM (hydrate), its JS glue from wasm-bindgen, shrunk by wasm-opt when one is installed, plus
# style/main.css as pkg/milvault.css and public/*. The server (`milvault serve`, any profile)
# serves it from --site-root / LEPTOS_SITE_ROOT. Needs what scripts/install-web-deps.sh installs.
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

cargo build -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile wasm-release --target-dir "$front_target" --quiet
wasm=$front_target/wasm32-unknown-unknown/wasm-release/app.wasm

mkdir -p "$site"
new=$(mktemp -d "$site/.pkg.XXXXXX")
trap 'rm -rf "$new"' EXIT
wasm-bindgen --target web --no-typescript --out-name milvault --out-dir "$new" "$wasm"

wasm_opt=
if command -v wasm-opt >/dev/null && wasm-opt --version | grep -q 'version 116'; then
  wasm_opt=wasm-opt
elif [ -x "$cache/binaryen/node_modules/.bin/wasm-opt" ]; then
  wasm_opt=$cache/binaryen/node_modules/.bin/wasm-opt
fi
if [ -n "$wasm_opt" ]; then
  before=$(stat -c %s "$new/milvault_bg.wasm")
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    -o "$new/milvault_bg.opt.wasm" "$new/milvault_bg.wasm"
  mv "$new/milvault_bg.opt.wasm" "$new/milvault_bg.wasm"
  echo "wasm-opt: $before -> $(stat -c %s "$new/milvault_bg.wasm") bytes" >&2
else
  echo "no wasm-opt 116 found: the WASM is served unshrunk (scripts/install-web-deps.sh installs one)" >&2
fi
cp style/main.css "$new/milvault.css"
if [ -d public ]; then cp -r public/. "$site/"; fi
chmod 755 "$new"
rm -rf "$site/pkg.old"
if [ -d "$site/pkg" ]; then mv "$site/pkg" "$site/pkg.old"; fi
mv "$new" "$site/pkg"
rm -rf "$site/pkg.old"
echo "site built in $site" >&2
