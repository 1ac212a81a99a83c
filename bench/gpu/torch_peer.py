"""The in-run peer of the GPU benchmark: all-MiniLM-L6-v2 run by PyTorch (fp16 on CUDA) with the weights taken from
the very ONNX file the .NET side runs (no weights downloaded), mean pooling + L2 norm as sentence-transformers does.

Checks the weight mapping first (cos("A man is eating food.", "A man is eating a piece of bread.") ~ 0.755,
vs "The girl is carrying a baby." ~ -0.105), then times docs/s on `--docs` random sequences of `--tokens` word
pieces in batches of `--batch`. Without torch (this repository's CPU machine) the same forward pass runs in numpy
float32, so the mapping is tested everywhere; the timing is then only informative.
usage: torch_peer.py MODEL.onnx VOCAB.txt [--docs N] [--tokens N] [--batch N]
"""
import argparse
import json
import math
import sys
import time

import onnx_weights

try:
    import torch
except ImportError:  # the CPU check machine: numpy only
    torch = None
import numpy as np


def load(model_path):
    inits, nodes = onnx_weights.read(model_path)
    arrays = {name: np.frombuffer(raw, dtype="<f4").reshape(dims) for name, (dims, raw) in inits.items()}
    # Anonymous MatMul weights: name each by the bias its output is added to (query/key/value/dense ...).
    produced_by = {}
    for op, inputs, outputs in nodes:
        if op == "MatMul":
            weight = next((i for i in inputs if i in arrays), None)
            if weight is not None:
                produced_by[outputs[0]] = weight
    weights = {}
    for op, inputs, outputs in nodes:
        if op == "Add" and len(inputs) == 2:
            matmul = next((i for i in inputs if i in produced_by), None)
            bias = next((i for i in inputs if i in arrays and i.endswith(".bias")), None)
            if matmul and bias:
                weights[bias[: -len(".bias")] + ".weight"] = arrays[produced_by[matmul]]  # [in, out]
    arrays.update(weights)
    layers = 0
    while f"encoder.layer.{layers}.attention.self.query.weight" in arrays:
        layers += 1
    if layers == 0:
        sys.exit("no encoder layers found in the ONNX file")
    return arrays, layers


def _erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return sign * y


class Forward:
    """BERT encoder + mean pooling + L2 norm, on torch (device, dtype) or numpy."""

    def __init__(self, arrays, layers, heads=12, device=None, dtype=None):
        self.layers, self.heads = layers, heads
        self.torch = torch is not None and device is not None
        if self.torch:
            self.w = {k: torch.from_numpy(np.array(v)).to(device=device, dtype=dtype) for k, v in arrays.items()}
            self.device, self.dtype = device, dtype
        else:
            self.w = {k: np.array(v, dtype=np.float32) for k, v in arrays.items()}

    def _ln(self, x, prefix):
        g, b = self.w[prefix + ".weight"], self.w[prefix + ".bias"]
        if self.torch:
            return torch.nn.functional.layer_norm(x, (x.shape[-1],), g, b, 1e-12)
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * g + b

    def _lin(self, x, prefix):
        return x @ self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def __call__(self, ids, mask):
        w = self.w
        if self.torch:
            ids_t = torch.as_tensor(ids, device=self.device)
            mask_t = torch.as_tensor(mask, device=self.device, dtype=self.dtype)
            x = w["embeddings.word_embeddings.weight"][ids_t] + w["embeddings.position_embeddings.weight"][: ids.shape[1]] \
                + w["embeddings.token_type_embeddings.weight"][0]
        else:
            mask_t = mask.astype(np.float32)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]] \
                + w["embeddings.token_type_embeddings.weight"][0]
        x = self._ln(x, "embeddings.LayerNorm")
        bsz, seq, hidden = x.shape
        hd = hidden // self.heads
        neg = (1.0 - mask_t)[:, None, None, :] * -10000.0
        for l in range(self.layers):
            p = f"encoder.layer.{l}."
            def split(t):
                t = t.reshape(bsz, seq, self.heads, hd)
                return t.permute(0, 2, 1, 3) if self.torch else t.transpose(0, 2, 1, 3)
            q, k, v = (split(self._lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
            if self.torch:
                scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + neg
                ctx = torch.softmax(scores.float(), dim=-1).to(self.dtype) @ v
                ctx = ctx.permute(0, 2, 1, 3).reshape(bsz, seq, hidden)
            else:
                scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd) + neg
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                ctx = (scores / scores.sum(-1, keepdims=True)) @ v
                ctx = ctx.transpose(0, 2, 1, 3).reshape(bsz, seq, hidden)
            x = self._ln(self._lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self._lin(x, p + "intermediate.dense")
            if self.torch:
                h = torch.nn.functional.gelu(h)
            else:
                h = 0.5 * h * (1 + _erf(h / math.sqrt(2)))
            x = self._ln(self._lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        m = mask_t[:, :, None]
        pooled = (x * m).sum(1) / m.sum(1)
        if self.torch:
            pooled = pooled.float()
            return (pooled / pooled.norm(dim=-1, keepdim=True)).cpu().numpy()
        return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("vocab")
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    vocab = {line.rstrip("\r\n"): i for i, line in enumerate(open(args.vocab, encoding="utf-8"))}
    arrays, layers = load(args.model)
    if torch is not None and torch.cuda.is_available():
        device, dtype, backend = "cuda", torch.float16, f"torch {torch.__version__} CUDA fp16 ({torch.cuda.get_device_name(0)})"
    elif torch is not None:
        device, dtype, backend = "cpu", torch.float32, f"torch {torch.__version__} CPU fp32"
    else:
        device, dtype, backend = None, None, f"numpy {np.__version__} float32 (no torch here)"
    forward = Forward(arrays, layers, device=device, dtype=dtype)

    def encode(sentence):
        words = sentence.lower().replace(".", " .").split()
        return [vocab["[CLS]"]] + [vocab[w] for w in words] + [vocab["[SEP]"]]
    sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]
    encoded = [encode(s) for s in sentences]
    width = max(map(len, encoded))
    ids = np.array([e + [0] * (width - len(e)) for e in encoded], dtype=np.int64)
    mask = np.array([[1] * len(e) + [0] * (width - len(e)) for e in encoded], dtype=np.int64)
    v = forward(ids, mask)
    close, far = float(v[0] @ v[1]), float(v[0] @ v[2])
    ok = abs(close - 0.755) < 0.01 and abs(far + 0.105) < 0.01
    print(f"peer:     {backend}; {layers} layers from the ONNX file's initializers; sanity cos {close:.3f} (expect 0.755), {far:.3f} (expect -0.105): {'ok' if ok else 'WRONG'}")

    rng = np.random.default_rng(42)
    docs = rng.integers(1996, len(vocab), size=(args.docs, args.tokens + 2), dtype=np.int64)
    docs[:, 0], docs[:, -1] = vocab["[CLS]"], vocab["[SEP]"]
    ones = np.ones_like(docs)
    forward(docs[: args.batch], ones[: args.batch])  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for b in range(0, args.docs, args.batch):
        forward(docs[b:b + args.batch], ones[b:b + args.batch])
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": backend, "docs": args.docs, "tokens": args.tokens, "batch": args.batch,
                      "seconds": round(seconds, 3), "docs_per_s": round(args.docs / seconds, 1), "sanity_ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
