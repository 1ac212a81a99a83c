"""Reads the float32 initializers of an ONNX file with a minimal protobuf walker (no onnx package needed).

ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto dims (1), data_type (2), name (8), raw_data (9);
GraphProto.node (1) -> NodeProto input (1), output (2), op_type (4): the MatMul weights of an exported BERT are
anonymous ("onnx::MatMul_123"), so the nodes are read too, in graph order, to tell which is which.
"""
import struct
import sys


def _varint(data, pos):
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(data):
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield field, wire, value


def read(path):
    """Returns (initializers: name -> (dims, raw bytes), nodes: [(op_type, inputs, outputs)])."""
    with open(path, "rb") as f:
        model = memoryview(f.read())
    initializers, nodes = {}, []
    for field, wire, graph in _fields(model):
        if field != 7 or wire != 2:
            continue
        for gfield, gwire, value in _fields(graph):
            if gfield == 5 and gwire == 2:
                dims, dtype, name, raw = [], 0, "", b""
                for tfield, twire, tvalue in _fields(value):
                    if tfield == 1 and twire == 0:
                        dims.append(tvalue)
                    elif tfield == 1 and twire == 2:
                        p = 0
                        while p < len(tvalue):
                            d, p = _varint(tvalue, p)
                            dims.append(d)
                    elif tfield == 2:
                        dtype = tvalue
                    elif tfield == 8:
                        name = bytes(tvalue).decode()
                    elif tfield == 9:
                        raw = tvalue
                if dtype == 1:
                    initializers[name] = (dims, raw)
            elif gfield == 1 and gwire == 2:
                inputs, outputs, op = [], [], ""
                for nfield, nwire, nvalue in _fields(value):
                    if nfield == 1:
                        inputs.append(bytes(nvalue).decode())
                    elif nfield == 2:
                        outputs.append(bytes(nvalue).decode())
                    elif nfield == 4:
                        op = bytes(nvalue).decode()
                nodes.append((op, inputs, outputs))
    return initializers, nodes


if __name__ == "__main__":
    inits, nodes = read(sys.argv[1])
    for name, (dims, raw) in inits.items():
        print(name, dims, len(raw))
    print(len(nodes), "nodes;", sum(1 for n in nodes if n[0] == "MatMul"), "MatMul")
