using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Parquet;

namespace Curation.Pipelines.Tests.IO;

/// <summary>
/// Finding one document in a shard (the drop explorer's text of a drop, <c>curate inspect</c>, the documents API) reads
/// the shard's ids and one row group's text, not the whole shard: it read and decoded every text of a 64 MiB shard for
/// each document looked up.
/// </summary>
public sealed class ShardLookupTests
{
    private const int RowGroups = 8, RowsPerGroup = 250;

    private static string Text(int i) => $"document {i}: " + string.Concat(Enumerable.Repeat($"words of row {i} in several scripts — 日本語のテキスト ไทย ", 20));

    private static async Task<byte[]> ShardAsync()
    {
        using var file = new MemoryStream();
        await using (var writer = await ParquetTableWriter.CreateAsync(file, Columns.Core, CompressionMethod.Snappy))
            for (var group = 0; group < RowGroups; group++)
            {
                var batch = RecordBatch.ForDocuments(RowsPerGroup);
                for (var row = 0; row < RowsPerGroup; row++)
                {
                    var i = group * RowsPerGroup + row;
                    batch.AddDocument($"id-{i:D5}", Text(i), $"part-{group}.jsonl", row);
                }
                await writer.WriteAsync(batch);
            }
        return file.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(251)]
    [InlineData(1_999)]
    public async Task A_document_is_found_in_any_row_group_reading_a_fraction_of_the_shard(int i)
    {
        var shard = await ShardAsync();
        var counting = new CountingStream(new MemoryStream(shard));

        var found = await JsonlShardFile.FindDocumentAsync(counting, "jobs/j/02-quality_filter/00000.parquet", $"id-{i:D5}");

        Assert.Equal(($"id-{i:D5}", $"part-{i / RowsPerGroup}.jsonl", Text(i)), found);
        Assert.True(counting.BytesRead < shard.Length / 3, $"read {counting.BytesRead:N0} of {shard.Length:N0} bytes");
    }

    [Fact]
    public async Task A_missing_id_is_null_and_an_unseekable_stream_or_a_jsonl_shard_is_searched_too()
    {
        var shard = await ShardAsync();
        Assert.Null(await JsonlShardFile.FindDocumentAsync(new MemoryStream(shard), "s.parquet", "id-99999"));
        Assert.Equal(Text(1_234), (await JsonlShardFile.FindDocumentAsync(new CountingStream(new MemoryStream(shard), seekable: false), "s.parquet", "id-01234"))?.Text);

        var jsonl = new MemoryStream();
        await using (var writer = new StreamWriter(jsonl, leaveOpen: true))
            for (var i = 0; i < 50; i++)
                await writer.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { id = $"id-{i:D5}", text = Text(i), source = "a.jsonl" }));
        jsonl.Position = 0;
        Assert.Equal(Text(42), (await JsonlShardFile.FindDocumentAsync(jsonl, "part-00000.jsonl", "id-00042"))?.Text);
    }

    /// <summary>Counts the bytes read through it; optionally hides that the inner stream can seek.</summary>
    private sealed class CountingStream(Stream inner, bool seekable = true) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => seekable;
        public override bool CanWrite => false;
        public override long Length => seekable ? inner.Length : throw new NotSupportedException();
        public override long Position
        {
            get => seekable ? inner.Position : throw new NotSupportedException();
            set => inner.Position = seekable ? value : throw new NotSupportedException();
        }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => seekable ? inner.Seek(offset, origin) : throw new NotSupportedException();
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            BytesRead += read;
            return read;
        }
    }
}
