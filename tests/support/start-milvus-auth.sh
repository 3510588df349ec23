#!/usr/bin/env bash
# Starts Milvus 2.3.5 standalone (local storage) with authorization on (user root, password
# Milvus), for the tests of signing in with Milvus' own users. Same ports as
# ../shared/testenv/start-milvus.sh. Usage: start-milvus-auth.sh DATA_DIR
# Prints the process group id once healthy; stop all of it with: kill -- -PGID
set -euo pipefail
dir=${1:?usage: start-milvus-auth.sh DATA_DIR}
mkdir -p "$dir"
setsid nohup milvus-server --data "$dir" --proxy-port 19530 \
  --extra-config common.security.authorizationEnabled=true >"$dir/milvus.log" 2>&1 &
pid=$!
for _ in $(seq 1 180); do
  if curl -sf http://127.0.0.1:9091/healthz >/dev/null 2>&1; then echo "$pid"; exit 0; fi
  kill -0 "$pid" 2>/dev/null || { echo "milvus exited; see $dir/milvus.log" >&2; exit 1; }
  sleep 1
done
echo "Milvus not healthy within 180 s; see $dir/milvus.log" >&2; exit 1
