#!/usr/bin/env bash
# Installs what building the portal's browser half (scripts/build-site.sh) and its browser tests
# need, from package registries only: the wasm32 target, wasm-bindgen-cli at the lockfile's
# wasm-bindgen version, wasm-split-cli (crates.io's wasm_split_cli_support 0.2.4, ~3 min to build
# on 2 cores; it splits the WASM at the lazy routes), wasm-opt 116 from npm's `binaryen` package
# (a prebuilt binary, about 2 s; Debian's binaryen 108 breaks hydration, and crates.io's wasm-opt
# builds for ~12 min), terser 5 from npm (minifies the JS glue), Debian's chromium, and the end2end npm packages. Idempotent: each step is skipped when its tool is already
# there at the right version. cargo-leptos is not needed (build-site.sh does its work).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$HOME/.cargo/bin:$PATH

have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

cache=${MILVAULT_CACHE:-$HOME/.cache/milvault}
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly
wb=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, "", $0); print; exit}' "$repo/Cargo.lock")
if [ -n "$wb" ]; then
  have_version wasm-bindgen "$wb" || cargo install wasm-bindgen-cli --version "$wb"
fi

wasm_split=$cache/wasm-split
if [ ! -x "$wasm_split/bin/wasm-split-cli" ]; then
  cargo install --locked wasm_split_cli_support --version 0.2.4 --features build-binary \
    --root "$wasm_split"
fi

binaryen=$cache/binaryen
if ! "$binaryen/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q 'version 116'; then
  command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
  mkdir -p "$binaryen"
  npm install --prefix "$binaryen" --no-audit --no-fund --silent binaryen@116.0.0
fi

# terser minifies the JS glue (build-site.sh)
terser=$cache/terser
if ! "$terser/node_modules/.bin/terser" --version 2>/dev/null | grep -q '^terser 5\.'; then
  command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
  mkdir -p "$terser"
  npm install --prefix "$terser" --no-audit --no-fund --silent terser@5
fi

if [ "${MILVAULT_SKIP_BROWSER:-}" != 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core
  fi
  if [ -f "$repo/end2end/package.json" ] && [ ! -d "$repo/end2end/node_modules" ]; then
    (cd "$repo/end2end" && npm ci --no-audit --no-fund)
  fi
fi
