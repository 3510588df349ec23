#!/usr/bin/env bash
# Checks deploy/: the Prometheus alert rules (promtool), and every kustomization (the base and each overlay)
# renders with `kubectl kustomize`, validates strictly against Kubernetes' schemas
# (kubernetes-validate), and its backup.yaml is a configuration milvault reads (`config show`).
#
#   bash scripts/check-deploy.sh [MILVAULT_BINARY]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# the alert rules over /metrics, and their unit tests
promtool check rules "$repo/deploy/prometheus/alerts.yaml" >/dev/null
(cd "$repo/deploy/prometheus" && promtool test rules alerts_test.yaml >/dev/null)
echo "deploy/prometheus: alert rules check and pass their tests (promtool)"
bin=${1:-$repo/target/debug/milvault}
venv=${MILVAULT_CACHE:-$HOME/.cache/milvault}/venv
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in "$repo"/deploy/base "$repo"/deploy/overlays/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  kubectl kustomize "$dir" >"$out/$name.yaml"
  "$venv/bin/kubernetes-validate" --strict --quiet "$out/$name.yaml"
  # the ConfigMap's backup.yaml, as the pod reads it
  "$venv/bin/python" - "$out/$name.yaml" "$out/$name.backup.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cms = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("milvault-config")]
assert len(cms) == 1, f"one milvault-config ConfigMap, found {len(cms)}"
deploy = next(d for d in docs if d["kind"] == "Deployment")
pod = deploy["spec"]["template"]["spec"]
volume = next(v for v in pod["volumes"] if v["name"] == "config")
assert volume["configMap"]["name"] == cms[0]["metadata"]["name"], "the pod mounts the rendered ConfigMap"
container = pod["containers"][0]
assert "--config=/etc/milvault/backup.yaml" in container["args"], container["args"]
assert container["readinessProbe"]["httpGet"]["path"] == "/api/v2/health"
assert pod["securityContext"]["runAsNonRoot"] is True
# several replicas only on a shared state: Postgres from a Secret, no SQLite volume
if deploy["spec"].get("replicas", 1) > 1:
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"], "several replicas with a SQLite volume"
    assert not [a for a in container["args"] if a.startswith("--job-db")], container["args"]
    env = {e["name"]: e for e in container.get("env", [])}
    assert env["MILVAULT_JOB_DB"]["valueFrom"]["secretKeyRef"]["name"], "the state URL comes from a Secret"
text = cms[0]["data"]["backup.yaml"]
open(sys.argv[2], "w").write(text)
open(sys.argv[2] + ".milvus", "w").write(yaml.safe_load(text)["milvus"]["address"])
PY
  "$bin" --config "$out/$name.backup.yaml" config show >"$out/$name.effective.yaml"
  # milvault runs with the Milvus the ConfigMap names
  grep -qx "  address: $(cat "$out/$name.backup.yaml.milvus")" "$out/$name.effective.yaml"
  echo "deploy/$name: renders, validates, and its backup.yaml reads ($(grep -c '^kind:' "$out/$name.yaml") resources)"
done
