#!/usr/bin/env bash
# Installs what building the portal (Leptos SSR + WASM) and its browser tests need, from package
# registries only: the wasm32 target, cargo-leptos (no_downloads build: it uses the tools below from
# PATH instead of fetching them), wasm-bindgen-cli at the lockfile's wasm-bindgen version, wasm-opt
# (crates.io build; Debian's binaryen 108 breaks hydration), Debian's chromium, and the end2end npm
# packages. Idempotent: each step is skipped when its tool is already there at the right version.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$HOME/.cargo/bin:$PATH

have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

have_version cargo-leptos 0.3.5 ||
  cargo install cargo-leptos --version 0.3.5 --locked --features no_downloads

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly
wb=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, "", $0); print; exit}' "$repo/Cargo.lock")
if [ -n "$wb" ]; then
  have_version wasm-bindgen "$wb" || cargo install wasm-bindgen-cli --version "$wb"
fi

have_version wasm-opt 116 || cargo install wasm-opt --version 0.116.1

if [ "${MILVAULT_SKIP_BROWSER:-}" != 1 ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core
  fi
  if [ -f "$repo/end2end/package.json" ] && [ ! -d "$repo/end2end/node_modules" ]; then
    (cd "$repo/end2end" && npm ci --no-audit --no-fund)
  fi
fi
