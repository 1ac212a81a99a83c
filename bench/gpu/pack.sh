#!/usr/bin/env bash
# Packs what the GPU benchmark needs into chunks that fit the device tool's 64 MiB carry: a self-contained (untrimmed:
# trimming disables the reflection-based JSON the job spec uses)
# publish of the bench (ONNX Runtime's CUDA provider and the shipped model come with it), the PyTorch peer and the
# scripts. The device machine has no dotnet, no package registry and no model weights.
#   bench/gpu/pack.sh [OUT]           (default OUT: bench/gpu/out, ignored by git)
# Then, per chunk, one device call carrying it:   bash bench/gpu/receive.sh            (copies it to /tmp/curation-gpu)
# and finally:                                     bash bench/gpu/run.sh /tmp/curation-gpu
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/bench/gpu/out}"
chunk_mib="${CHUNK_MIB:-60}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

dotnet publish "$root/bench/Curation.Bench" -c Release -r linux-x64 --self-contained true \
  -p:PublishTrimmed=false -p:TreatWarningsAsErrors=false \
  -o "$stage/app" >"$stage/publish.log" 2>&1 || { tail -30 "$stage/publish.log"; exit 1; }
# Only linux-x64 natives travel; the CUDA provider is the large one (~284 MB).
cp "$root/bench/gpu/torch_peer.py" "$root/bench/gpu/onnx_weights.py" "$stage/"
mkdir -p "$stage/samples" && cp -r "$root/samples/corpus" "$stage/samples/"   # the embed bench's demo documents
( cd "$stage/app" && find . -type f -printf '%s %p\n' | sort -rn | sed -n '1,5s/^/largest: /p' ) || true

rm -rf "$out"; mkdir -p "$out"
tar -C "$stage" -cf - app samples torch_peer.py onnx_weights.py | zstd -q -T0 -"${ZSTD_LEVEL:-6}" | split -b "${chunk_mib}M" -d -a 2 - "$out/chunk-"
( cd "$out" && sha256sum chunk-* > SHA256SUMS )
echo "packed $(du -sb "$stage/app" | cut -f1) bytes of publish into $(ls "$out"/chunk-* | wc -l) chunks of ≤ ${chunk_mib} MiB in $out:"
ls -l "$out"
