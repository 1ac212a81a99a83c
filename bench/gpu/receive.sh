#!/usr/bin/env bash
# On the device machine, in a call that carried one or more chunks: keeps them outside the (per-call) working tree.
#   bash bench/gpu/receive.sh [DEST]      (default DEST: /tmp/curation-gpu)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-/tmp/curation-gpu}"
mkdir -p "$dest"
cp "$here"/out/chunk-* "$here"/out/SHA256SUMS "$dest"/ 2>/dev/null || true
ls -l "$dest"
