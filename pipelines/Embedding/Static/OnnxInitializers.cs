using System.Buffers.Binary;

namespace Curation.Pipelines.Embedding.Static;

/// <summary>
/// Reads one float32 initializer (a weight matrix) straight out of an ONNX file's protobuf, without a protobuf library:
/// ModelProto.graph (field 7) → GraphProto.initializer (field 5) → TensorProto dims (1), data_type (2), name (8),
/// raw_data (9) or float_data (4). Enough to take the word-embedding table of a BERT-family model.
/// </summary>
public static class OnnxInitializers
{
    private const int FloatType = 1;

    /// <summary>A float matrix of the model: its name, shape and row-major values.</summary>
    public sealed record Tensor(string Name, long[] Dims, float[] Values);

    /// <summary>The first 2-D float32 initializer whose shape is [<paramref name="rows"/>, any].</summary>
    public static Tensor FindMatrix(string modelPath, int rows)
    {
        var bytes = File.ReadAllBytes(modelPath);
        var model = new ReadOnlySpan<byte>(bytes);
        var position = 0;
        while (position < model.Length)
        {
            var (field, wire) = ReadTag(model, ref position);
            if (field == 7 && wire == 2)
            {
                var graph = ReadLengthDelimited(model, ref position);
                var inner = 0;
                while (inner < graph.Length)
                {
                    var (gField, gWire) = ReadTag(graph, ref inner);
                    if (gField == 5 && gWire == 2)
                    {
                        var tensor = ParseTensor(ReadLengthDelimited(graph, ref inner));
                        if (tensor is { Dims.Length: 2 } t && t.Dims[0] == rows) return t.Materialise();
                    }
                    else Skip(graph, ref inner, gWire);
                }
            }
            else Skip(model, ref position, wire);
        }
        throw new InvalidDataException($"{modelPath} has no float32 initializer of shape [{rows}, d]: not a BERT-family model with a {rows}-token vocabulary.");
    }

    private sealed record RawTensor(string Name, long[] Dims, byte[] Raw, float[]? Floats)
    {
        public Tensor Materialise()
        {
            var count = checked((int)(Dims[0] * Dims[1]));
            if (Floats is { } floats)
                return floats.Length == count ? new Tensor(Name, Dims, floats) : throw new InvalidDataException($"Initializer {Name} holds {floats.Length} floats, its shape says {count}.");
            if (Raw.Length != count * 4) throw new InvalidDataException($"Initializer {Name} holds {Raw.Length} bytes, its shape says {count * 4}.");
            var values = new float[count];
            for (var i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(Raw.AsSpan(i * 4, 4));
            return new Tensor(Name, Dims, values);
        }
    }

    private static RawTensor? ParseTensor(ReadOnlySpan<byte> tensor)
    {
        var dims = new List<long>();
        var type = 0L;
        var name = "";
        byte[] raw = [];
        List<float>? floats = null;
        var position = 0;
        while (position < tensor.Length)
        {
            var (field, wire) = ReadTag(tensor, ref position);
            switch (field, wire)
            {
                case (1, 0): dims.Add((long)ReadVarint(tensor, ref position)); break;
                case (1, 2):
                    var packed = ReadLengthDelimited(tensor, ref position);
                    for (var p = 0; p < packed.Length;) dims.Add((long)ReadVarint(packed, ref p));
                    break;
                case (2, 0): type = (long)ReadVarint(tensor, ref position); break;
                case (8, 2): name = System.Text.Encoding.UTF8.GetString(ReadLengthDelimited(tensor, ref position)); break;
                case (9, 2): raw = ReadLengthDelimited(tensor, ref position).ToArray(); break;
                case (4, 2):
                    var data = ReadLengthDelimited(tensor, ref position);
                    floats = new List<float>(data.Length / 4);
                    for (var p = 0; p + 4 <= data.Length; p += 4) floats.Add(BinaryPrimitives.ReadSingleLittleEndian(data[p..]));
                    break;
                default: Skip(tensor, ref position, wire); break;
            }
        }
        return type == FloatType ? new RawTensor(name, [.. dims], raw, floats?.ToArray()) : null;
    }

    private static (int Field, int Wire) ReadTag(ReadOnlySpan<byte> data, ref int position)
    {
        var tag = ReadVarint(data, ref position);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length) throw new InvalidDataException("The ONNX file ends inside a varint.");
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("The ONNX file holds a varint longer than 10 bytes.");
    }

    private static ReadOnlySpan<byte> ReadLengthDelimited(ReadOnlySpan<byte> data, ref int position)
    {
        var length = checked((int)ReadVarint(data, ref position));
        if (length < 0 || position + length > data.Length) throw new InvalidDataException("The ONNX file ends inside a field.");
        var slice = data.Slice(position, length);
        position += length;
        return slice;
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int position, int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(data, ref position); break;
            case 1: position += 8; break;
            case 2: ReadLengthDelimited(data, ref position); break;
            case 5: position += 4; break;
            default: throw new InvalidDataException($"The ONNX file holds protobuf wire type {wire}, which this reader does not know.");
        }
        if (position > data.Length) throw new InvalidDataException("The ONNX file ends inside a field.");
    }
}
