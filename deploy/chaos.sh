#!/usr/bin/env bash
# Random single-silo kills on a 3-silo cluster, many trials: the longer run of the CI chaos test.
#
#   deploy/chaos.sh [TRIALS] [SEED]        # default 30 trials, a random seed (printed; pass it back to repeat the choices)
#
# Each trial submits a job (normalize → quality_filter → exact_dedup → near_dedup) through a live silo's REST API and
# SIGKILLs one of 3 `curate silo` processes (Redis membership, shared local data store) at a moment drawn uniformly
# from just before the submission to the end of a clean run; half the time a new silo joins a moment later. Every job
# must complete without being submitted again, with output identical to an uninterrupted run. Needs what the cluster
# tests need: the .NET SDK, Node.js/npm (Azurite, installed into tools/azurite) and redis-server on PATH.
# Prints one line per trial and ends with:
#   trials N, completed without resubmission N, identical output N, lost 0, doubled 0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

trials=${1:-30}
seed=${2:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
[ -x tools/azurite/node_modules/.bin/azurite-blob ] || npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
command -v redis-server >/dev/null 2>&1 || { echo "chaos: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }

dotnet build tests/cluster -c Release -v quiet -nologo >/dev/null
log=$(mktemp -t curation-chaos.XXXXXX)
set +e
CURATION_CHAOS_TRIALS=$trials CURATION_CHAOS_SEED=$seed \
  dotnet test tests/cluster -c Release --no-build --filter "FullyQualifiedName~ChaosTests" --logger "console;verbosity=detailed" >"$log" 2>&1
status=$?
set -e
# The test's own lines (each printed twice by the logger: live and in the test's output), once, in order.
grep -E '^ ?(chaos seed|3 silos up|clean run|trial [0-9]+:|trials [0-9]+,|API answers)' "$log" | sed 's/^ //' | awk '!seen[$0]++'
if [ "$status" -ne 0 ]; then
  echo "chaos: FAILED (exit $status); the failure:" >&2
  grep -E -A 40 '^\s+Failed |Error Message' "$log" | cut -c1-400 | head -n 80 >&2
fi
rm -f "$log"
exit "$status"
