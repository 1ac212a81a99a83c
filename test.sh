#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine that has only the .NET SDK (plus Node.js/npm for Azurite):
# installs Debian's redis-server and chromium when missing (apt-get, as root) and Azurite into tools/azurite, starts
# Azurite's blob and table services on loopback with a temporary folder, runs `dotnet test`, and stops them again
# whatever happens.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n== %s\n' "$*"; }

log "Azurite 3.37.0 (npm, repo-local)"
if [ ! -x tools/azurite/node_modules/.bin/azurite ]; then
  npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
fi

log "js-tiktoken 1.0.21 (npm, repo-local): the reference of the train_tokenize parity test"
if [ ! -f tools/tiktoken/node_modules/js-tiktoken/package.json ]; then
  npm ci --prefix tools/tiktoken --no-audit --no-fund --loglevel=error
fi

log "@duckdb/node-api 1.5.6-r.1 (npm, repo-local): reads the curated output as third-party tools do"
if [ ! -f tools/duckdb/node_modules/@duckdb/node-api/package.json ]; then
  npm ci --prefix tools/duckdb --no-audit --no-fund --loglevel=error
fi

log "Debian packages: redis-server (Redis clustering test), chromium (dashboard browser test), python3 (rule-set parity oracle), python3-onnx (quality_score's test classifier)"
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)   # the reference transcription of datatrove's rules (RuleSetParityTests)
# quality_score's model tests build a real sequence classifier from the shipped graph (tests/testing/classifier_head.py)
/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1 || missing+=(python3-onnx python3-numpy)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # With recommends: chromium's fonts come that way (the dashboard test takes a screenshot).
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  systemctl disable --now redis-server >/dev/null 2>&1 || true   # the tests start their own on a free port
fi
redis-server --version
chromium --version 2>/dev/null || true
# The browser test fails (rather than skips) when Chromium is missing.
export CURATION_REQUIRE_BROWSER=1

azurite_dir=$(mktemp -d -t curation-azurite.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
  || node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
blob_port=$(free_port)
tools/azurite/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$blob_port" \
  --location "$azurite_dir" --loose --skipApiVersionCheck --silent --disableTelemetry >"$azurite_dir/azurite.log" 2>&1 &
azurite_pid=$!
table_port=$(free_port)
tools/azurite/node_modules/.bin/azurite-table --tableHost 127.0.0.1 --tablePort "$table_port" \
  --location "$azurite_dir" --loose --skipApiVersionCheck --silent --disableTelemetry >"$azurite_dir/azurite-table.log" 2>&1 &
table_pid=$!
cleanup() {
  kill "$azurite_pid" "$table_pid" 2>/dev/null || true
  wait "$azurite_pid" "$table_pid" 2>/dev/null || true
  rm -rf "$azurite_dir"
}
trap cleanup EXIT

for port in "$blob_port" "$table_port"; do
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.2
  done
done
export CURATION_TEST_AZURITE_BLOB="http://127.0.0.1:$blob_port/devstoreaccount1"
export CURATION_TEST_AZURITE_TABLE="http://127.0.0.1:$table_port/devstoreaccount1"
echo "Azurite blob service: $CURATION_TEST_AZURITE_BLOB (pid $azurite_pid), table service: $CURATION_TEST_AZURITE_TABLE (pid $table_pid)"

log "dotnet format whitespace --verify-no-changes (style and analyzers are enforced by the build itself)"
dotnet format whitespace Curation.sln --verify-no-changes

log "dotnet test"
# The output is kept in a file too, so that the failures can be repeated at the very end, where a CI log's tail shows them.
test_log="$azurite_dir/dotnet-test.log"
set +e
dotnet test Curation.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$test_log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  log "dotnet test failed (exit $status); the failures again:"
  grep -E -A 30 '^\s+Failed |error [A-Z]+[0-9]+|Test Run Aborted|The active test run was aborted' "$test_log" | cut -c1-400 | head -n 300 || true
fi
exit "$status"
