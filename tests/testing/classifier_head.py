#!/usr/bin/env python3
"""Builds a real ONNX sequence-classification model for the quality_score tests from the shipped all-MiniLM-L6-v2
graph (inputs input_ids, attention_mask, token_type_ids; output last_hidden_state [batch, sequence, hidden]) by
appending a classification head: mean pooling over the attention mask, L2 normalisation, Gemm(W, b) -> logits
[batch, n]. That is the embed stage's pooling followed by a linear classifier, so the model scores a document as the
trained classifier scores its embedding.

usage: classifier_head.py BASE.onnx HEAD.json OUT.onnx
HEAD.json: {"weights": [[hidden floats] x n], "bias": [n floats]}
Needs Debian's python3-onnx (1.12) and python3-numpy.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(base_path, head_path, out_path):
    model = onnx.load(base_path)
    graph = model.graph
    if not any(o.name == "last_hidden_state" for o in graph.output):
        raise SystemExit(f"{base_path} has no last_hidden_state output")
    with open(head_path, encoding="utf-8") as f:
        head = json.load(f)
    weights = np.asarray(head["weights"], dtype=np.float32)
    bias = np.asarray(head["bias"], dtype=np.float32)
    n = weights.shape[0]
    if weights.ndim != 2 or bias.shape != (n,):
        raise SystemExit(f"weights {weights.shape} and bias {bias.shape} do not make a head of {n} outputs")

    graph.initializer.extend([
        numpy_helper.from_array(weights, "head_weights"),
        numpy_helper.from_array(bias, "head_bias"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "head_sequence_axis"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "head_last_axis"),
        numpy_helper.from_array(np.array([1e-9], dtype=np.float32), "head_min_count"),
        numpy_helper.from_array(np.array([1e-12], dtype=np.float32), "head_min_norm"),
    ])
    # Opset 13 (the shipped graph's): ReduceSum and Unsqueeze take their axes as inputs, ReduceL2 as an attribute.
    graph.node.extend([
        helper.make_node("Cast", ["attention_mask"], ["head_mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["head_mask", "head_last_axis"], ["head_mask3"]),
        helper.make_node("Mul", ["last_hidden_state", "head_mask3"], ["head_masked"]),
        helper.make_node("ReduceSum", ["head_masked", "head_sequence_axis"], ["head_sum"], keepdims=0),
        helper.make_node("ReduceSum", ["head_mask3", "head_sequence_axis"], ["head_count"], keepdims=0),
        helper.make_node("Max", ["head_count", "head_min_count"], ["head_count_clamped"]),
        helper.make_node("Div", ["head_sum", "head_count_clamped"], ["head_mean"]),
        helper.make_node("ReduceL2", ["head_mean"], ["head_norm"], axes=[-1], keepdims=1),
        helper.make_node("Max", ["head_norm", "head_min_norm"], ["head_norm_clamped"]),
        helper.make_node("Div", ["head_mean", "head_norm_clamped"], ["head_unit"]),
        helper.make_node("Gemm", ["head_unit", "head_weights", "head_bias"], ["logits"], transB=1),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n]))
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
