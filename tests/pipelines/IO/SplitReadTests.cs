using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Parquet;
using Parquet.Schema;
using Xunit.Abstractions;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Reading an object in parts gives exactly the records of one whole read, with the same positions: byte parts of
/// JSONL and line text cut anywhere (inside records, on '\n', on '\r', inside a too-long line, after a BOM), and Parquet
/// row-group parts.
/// </summary>
public sealed class SplitReadTests(ITestOutputHelper output)
{
    /// <summary>JSONL with a BOM, CRLF, blank lines, a malformed line, a too-long line, multi-byte text and no final newline.</summary>
    private static byte[] Jsonl(Random random)
    {
        var text = new StringBuilder("\uFEFF");
        for (var i = 0; i < 60; i++)
        {
            switch (random.Next(8))
            {
                case 0: text.Append('\n'); break;
                case 1: text.Append("{\"text\": \"broken\n"); break;
                case 2: text.Append($"{{\"text\": \"{new string('x', 90)}\"}}\r\n"); break; // over the 64-byte limit
                default: text.Append($"{{\"id\": {i}, \"text\": \"doc {i} 日本語 {new string('a', random.Next(30))}\"}}{(random.Next(3) == 0 ? "\r\n" : "\n")}"); break;
            }
        }
        text.Append("{\"text\": \"last without newline\"}");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The position of the first line starting at or after <paramref name="start"/>, as the index phase computes it.</summary>
    private static long FirstLine(byte[] bytes, long start) => start == 0 ? 0 : 1 + bytes.AsSpan(0, (int)start - 1).Count((byte)'\n');

    private static async Task<List<InputRecord>> ReadPartsAsync(IInputReader reader, byte[] bytes, InputSpec spec, long[] cuts, bool seekable)
    {
        var bounds = new[] { 0L }.Concat(cuts.Order()).Append(bytes.Length).ToArray();
        var records = new List<InputRecord>();
        for (var p = 0; p + 1 < bounds.Length; p++)
        {
            var part = new ObjectPart(p, bounds.Length - 1, PartUnit.Bytes, bounds[p], bounds[p + 1], bounds[p + 1] - bounds[p], FirstLine(bytes, bounds[p]));
            Stream content = seekable ? new MemoryStream(bytes, writable: false) : new ForwardOnlyStream(bytes);
            await foreach (var record in reader.ReadAsync(content, new InputObject("corpus/a.jsonl", bytes.Length, spec) { Part = part }))
                records.Add(record);
        }
        return records;
    }

    [Fact]
    public async Task Jsonl_parts_cut_anywhere_read_the_same_records_with_the_same_positions()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var spec = MakeSpec(idField: null, maxRecordBytes: 64);
        for (var trial = 0; trial < 40; trial++)
        {
            var bytes = Jsonl(random);
            var whole = await ReadAllAsync(JsonlReader.Plain, bytes, spec, "corpus/a.jsonl");
            // Every single cut, then random sets of cuts.
            var cutSets = trial == 0
                ? Enumerable.Range(1, bytes.Length - 1).Select(c => new long[] { c })
                : Enumerable.Range(0, 20).Select(_ => Enumerable.Range(0, 1 + random.Next(6)).Select(_ => (long)random.Next(1, bytes.Length)).Distinct().ToArray());
            foreach (var cuts in cutSets)
                Assert.Equal(whole, await ReadPartsAsync(JsonlReader.Plain, bytes, spec, cuts, seekable: cuts.Length % 2 == 0));
        }
    }

    [Fact]
    public async Task Text_line_parts_read_the_same_documents()
    {
        var bytes = Encoding.UTF8.GetBytes("\uFEFFfirst line\r\n\r\nsecond\nthird ไทย\n\n\nfourth\nfifth no newline");
        var spec = MakeSpec(mode: TextDocumentMode.Line);
        var whole = await ReadAllAsync(TextInputReader.Instance, bytes, spec, "corpus/a.jsonl");
        for (var a = 1; a < bytes.Length; a++)
            for (var b = a + 1; b < bytes.Length; b += 3)
                Assert.Equal(whole, await ReadPartsAsync(TextInputReader.Instance, bytes, spec, [a, b], seekable: true));
    }

    [Fact]
    public void Byte_parts_cover_the_object_without_gaps()
    {
        var parts = ObjectSplitter.ByteParts(100_000_001, 10_000_000);
        Assert.Equal(11, parts.Count);
        Assert.Equal(0, parts[0].Start);
        Assert.Equal(100_000_001, parts[^1].End);
        for (var i = 1; i < parts.Count; i++) Assert.Equal(parts[i - 1].End, parts[i].Start);
        Assert.Empty(ObjectSplitter.ByteParts(10_000_000, 10_000_000));
    }

    [Fact]
    public async Task Parquet_row_group_parts_read_the_same_rows_with_the_same_positions()
    {
        var text = new DataField<string>("text");
        var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), output))
            for (var g = 0; g < 5; g++)
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(text, Enumerable.Range(0, 3 + g).Select(i => (string?)(i == 1 ? null : $"group {g} row {i}")).ToArray());
            }
        var bytes = output.ToArray();
        var spec = MakeSpec();
        var whole = await ReadAllAsync(ParquetInputReader.Instance, bytes, spec);
        var parts = new List<InputRecord>();
        long first = 0;
        foreach (var (start, end) in new[] { (0, 2), (2, 3), (3, 5) })
        {
            var part = new ObjectPart(parts.Count, 3, PartUnit.RowGroups, start, end, 0, first);
            await foreach (var record in ParquetInputReader.Instance.ReadAsync(new MemoryStream(bytes), new InputObject("corpus/part-0001.jsonl", bytes.Length, spec) { Part = part }))
                parts.Add(record);
            first += Enumerable.Range(start, end - start).Sum(g => 3 + g);
        }
        Assert.Equal(whole, parts);
    }

    /// <summary>A stream that cannot seek (a part then reads past the bytes before it).</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
    }
}
