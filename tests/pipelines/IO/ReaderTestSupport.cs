using System.IO.Compression;
using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Tests.IO;

internal static class ReaderTestSupport
{
    public static InputSpec MakeSpec(string textField = "text", string? idField = null, int maxRecordBytes = 8 * 1024 * 1024,
        TextDocumentMode mode = TextDocumentMode.File, InputFormat format = InputFormat.Auto) =>
        new() { Path = "corpus/*", TextField = textField, IdField = idField, MaxRecordBytes = maxRecordBytes, TextDocuments = mode, Format = format };

    public static async Task<List<InputRecord>> ReadAllAsync(IInputReader reader, Stream content, InputSpec spec, string source = "corpus/part-0001.jsonl",
        CancellationToken cancellationToken = default)
    {
        var records = new List<InputRecord>();
        await foreach (var record in reader.ReadAsync(content, new InputObject(source, content.CanSeek ? content.Length : 0, spec), cancellationToken))
            records.Add(record);
        return records;
    }

    public static Task<List<InputRecord>> ReadAllAsync(IInputReader reader, byte[] content, InputSpec spec, string source = "corpus/part-0001.jsonl") =>
        ReadAllAsync(reader, new MemoryStream(content, writable: false), spec, source);

    public static Task<List<InputRecord>> ReadAllAsync(IInputReader reader, string content, InputSpec spec, string source = "corpus/part-0001.jsonl") =>
        ReadAllAsync(reader, Encoding.UTF8.GetBytes(content), spec, source);

    /// <summary>Drives the reader on this thread only (sources complete synchronously), so per-thread allocation counts are exact.</summary>
    public static List<InputRecord> ReadAllOnThisThread(IInputReader reader, Stream content, InputObject input, Action<InputRecord>? each = null, bool keep = true)
    {
        var records = new List<InputRecord>();
        var enumerator = reader.ReadAsync(content, input).GetAsyncEnumerator();
        try
        {
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                Assert.True(next.IsCompleted, "the reader should complete synchronously over a synchronous source");
                if (!next.GetAwaiter().GetResult()) break;
                each?.Invoke(enumerator.Current);
                if (keep) records.Add(enumerator.Current);
            }
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return records;
    }

    public static byte[] Gzip(byte[] data, CompressionLevel level = CompressionLevel.Optimal)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, level, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    public static byte[] Gzip(string text) => Gzip(Encoding.UTF8.GetBytes(text));

    /// <summary>A gzip member holding nothing, as gzip(1) writes it (.NET's GZipStream writes no bytes at all for empty input).</summary>
    public static readonly byte[] EmptyGzipMember = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];

    public static string JsonLines(int count, Func<int, string>? text = null) =>
        string.Concat(Enumerable.Range(0, count).Select(i => $"{{\"id\":\"d{i}\",\"text\":\"{text?.Invoke(i) ?? "document number " + i}\"}}\n"));

    public static void AssertQuarantined(InputRecord record, long position, string reason, params string[] detailParts)
    {
        Assert.True(record.IsQuarantined, $"expected {reason} at {position}, got a document: {record.Text}");
        Assert.Equal(reason, record.Problem);
        Assert.Equal(position, record.Position);
        Assert.Null(record.Text);
        foreach (var part in detailParts) Assert.Contains(part, record.Detail!);
    }

    public static void AssertDocument(InputRecord record, long position, string text, string? id = null)
    {
        Assert.False(record.IsQuarantined, $"expected a document at {position}, got {record.Problem}: {record.Detail}");
        Assert.Equal(position, record.Position);
        Assert.Equal(text, record.Text);
        Assert.Equal(id, record.Id);
    }
}

/// <summary>A read-only stream over bytes that cannot seek and returns at most <c>chunk</c> bytes per read.</summary>
internal sealed class TrickleStream(byte[] data, int chunk = int.MaxValue, long failAfter = -1) : Stream
{
    private int _position;
    public long BytesRead => _position;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (failAfter >= 0 && _position >= failAfter) throw new IOException("connection reset by peer (test)");
        var limit = failAfter >= 0 ? (int)Math.Min(data.Length, failAfter) : data.Length;
        var count = Math.Min(Math.Min(buffer.Length, chunk), limit - _position);
        if (count <= 0) return 0;
        data.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}

/// <summary>
/// A read-only, non-seekable stream that makes its bytes up as it goes: a prefix, then <c>repeatCount</c> copies of
/// one byte, then a suffix — a 50 MB line without a 50 MB array.
/// </summary>
internal sealed class GeneratedStream(byte[] prefix, byte repeat, long repeatCount, byte[] suffix) : Stream
{
    private long _position;
    private long Total => prefix.Length + repeatCount + suffix.Length;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => Total;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length && _position < Total)
        {
            int count;
            if (_position < prefix.Length)
            {
                count = (int)Math.Min(buffer.Length - written, prefix.Length - _position);
                prefix.AsSpan((int)_position, count).CopyTo(buffer[written..]);
            }
            else if (_position < prefix.Length + repeatCount)
            {
                count = (int)Math.Min(buffer.Length - written, prefix.Length + repeatCount - _position);
                buffer.Slice(written, count).Fill(repeat);
            }
            else
            {
                var at = (int)(_position - prefix.Length - repeatCount);
                count = Math.Min(buffer.Length - written, suffix.Length - at);
                suffix.AsSpan(at, count).CopyTo(buffer[written..]);
            }
            written += count;
            _position += count;
        }
        return written;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));
}

/// <summary>
/// A non-seekable stream of <c>lines</c> JSONL lines made up without allocating per line: line i is one of 26
/// prepared lines (id i % 26, a nested object, and a text of <c>textBytes</c> copies of one letter).
/// </summary>
internal sealed class JsonLinesStream : Stream
{
    private readonly int _lines;
    private readonly byte[][] _templates;
    private int _line;
    private byte[] _current = [];
    private int _offset;

    public JsonLinesStream(int lines, int textBytes)
    {
        _lines = lines;
        _templates = Enumerable.Range(0, 26)
            .Select(k => Encoding.UTF8.GetBytes($"{{\"id\":{k},\"meta\":{{\"lang\":\"en\",\"score\":0.5,\"tags\":[\"a\",\"b\"]}},\"text\":\"{new string((char)('a' + k), textBytes)}\"}}\n"))
            .ToArray();
    }

    public long BytesProduced { get; private set; }
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length)
        {
            if (_offset == _current.Length)
            {
                if (_line == _lines) break;
                _current = _templates[_line % 26];
                _offset = 0;
                _line++;
            }
            var count = Math.Min(buffer.Length - written, _current.Length - _offset);
            _current.AsSpan(_offset, count).CopyTo(buffer[written..]);
            _offset += count;
            written += count;
        }
        BytesProduced += written;
        return written;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));
}
