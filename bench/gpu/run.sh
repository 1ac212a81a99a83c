#!/usr/bin/env bash
# Reassembles the chunks in DEST (checking SHA256SUMS), points ONNX Runtime at the CUDA 13 libraries of PyTorch's
# nvidia-* Python packages when they are there, and runs: the bench's embed comparison at 128 tokens (pipeline vs a
# bare ONNX Runtime loop on the same provider) and the PyTorch fp16 peer on the same model file.
#   bash bench/gpu/run.sh [DEST] [PROVIDER]    (defaults: /tmp/curation-gpu, cuda; PROVIDER cpu for the check here)
set -euo pipefail
dest="${1:-/tmp/curation-gpu}"
provider="${2:-cuda}"
python="${PYTHON:-python3}"
cd "$dest"
sha256sum -c --quiet SHA256SUMS
rm -rf unpacked; mkdir unpacked
cat chunk-* | zstd -q -d | tar -C unpacked -xf -
libs="$("$python" - <<'PY' 2>/dev/null || true
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except ImportError:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "*", "lib", "*.so*"))})))
PY
)"
[ -n "$libs" ] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || echo "no nvidia-smi: no GPU here"
export XDG_CACHE_HOME="$dest/cache"
./unpacked/app/curation-bench embed --provider "$provider" --embed-docs "${EMBED_DOCS:-256}" --fixed-docs "${FIXED_DOCS:-1024}" \
  --fixed-tokens 128 --repeat "${REPEAT:-2}" --threads 1
model="$XDG_CACHE_HOME/curation/models/all-MiniLM-L6-v2"
"$python" unpacked/torch_peer.py "$model/model.onnx" "$model/vocab.txt" --docs "${PEER_DOCS:-1024}" --tokens 128 --batch "${PEER_BATCH:-256}"
