#!/usr/bin/env bash
# Fails when a tracked file reaches outside the repository: a plain clone has nothing beside it.
# Looks for paths that climb above the repository root (a shared folder beside it, the repo's parent) in scripts,
# tests, benches and CI files, and for absolute paths of this team's machines anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files -- scripts tests benches .ci end2end Cargo.toml build.rs ':!*.md' ':!*.lock' ':!*package-lock.json' ':!scripts/check-self-contained.sh')
bad=$(printf '%s\n' $files | xargs -r grep -nE '\.\./shared|/work/share[d]|\$\{?repo\}?/\.\.|\.\./\.\./|MILVAULT_TESTENV' 2>/dev/null || true)
bad_src=$(git ls-files -- src app ':!*.md' | xargs -r grep -nE '\.\./shared|/work/share[d]' 2>/dev/null || true)
if [ -n "$bad$bad_src" ]; then
  echo "these lines reach outside the repository (a plain clone has nothing beside it):" >&2
  printf '%s\n' "$bad" "$bad_src" | sed '/^$/d' >&2
  exit 1
fi
echo "the tree references nothing outside itself"
