using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Parquet;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Cuts objects larger than <see cref="ShardingSpec.TargetShardBytes"/> (and than <see cref="MinPartBytes"/>) into parts that separate tasks read, so one big
/// file spreads over the cluster. Deterministic: the same object and target always give the same parts. Splitting
/// never changes what is read: ids and positions are those of an unsplit read (see <see cref="ObjectPart"/>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Uncompressed JSONL, and text read one document per line: ⌈size / target⌉ equal byte ranges; the record that
/// crosses a boundary belongs to the range it starts in.</item>
/// <item>Parquet: consecutive row groups up to the target (by compressed size; a larger row group is a part alone).
/// A file of one row group is not split.</item>
/// <item>Compressed streams (gzip, zstd): ⌈size × <see cref="CompressedExpansion"/> / target⌉ parts; one task inflates the
/// stream and hands each part about <c>target</c> characters of text, the last part the rest.</item>
/// <item>Text read as one document per file or per paragraph is never split.</item>
/// </list>
/// </remarks>
public static class ObjectSplitter
{
    /// <summary>How much larger than its compressed size a compressed text stream is taken to be when it is planned.</summary>
    public const int CompressedExpansion = 4;

    /// <summary>No object is cut into more parts than this (a tiny target on a huge object).</summary>
    public const int MaxParts = 10_000;

    /// <summary>
    /// Parts are never smaller than this, whatever the target (a part costs a task and a read of its start; a 4 KiB
    /// target would cut a 50 MB file into 12,800 tasks).
    /// </summary>
    public const long MinPartBytes = 1L << 20;

    public static async Task<List<PlannedObject>> SplitAsync(JobSpec spec, IReadOnlyList<PlannedObject> objects, IStoreResolver stores,
        CancellationToken cancellationToken = default)
    {
        var target = Math.Max(MinPartBytes, spec.Sharding.TargetShardBytes);
        var result = new List<PlannedObject>(objects.Count);
        foreach (var obj in objects)
        {
            var input = spec.Inputs[obj.Input];
            async Task<IReadOnlyList<ObjectPart>> LinesOrStreamAsync(bool json) =>
                await CutsAtNewlinesAsync(stores.Resolve(StoreLocation.Parse(input.Path)), obj.Key, json, cancellationToken).ConfigureAwait(false)
                    ? ByteParts(obj.Size, target)
                    : StreamParts(obj.Size, target);
            var parts = InputReaders.For(input, obj.Key) switch
            {
                // A JSON array cannot be entered in the middle, nor a compressed stream whose name does not say so
                // (a .txt.gz, a gzip named .jsonl) nor UTF-16 text: each is read whole by one task into parts, like a .jsonl.gz.
                JsonlReader { IsCompressed: false } when obj.Size > target => await LinesOrStreamAsync(json: true),
                TextInputReader when input.TextDocuments == TextDocumentMode.Line && obj.Size > target => await LinesOrStreamAsync(json: false),
                JsonlReader { IsCompressed: true } => StreamParts(obj.Size, target),
                WarcReader => StreamParts(obj.Size, target),
                // A quoted CSV field may hold line breaks: a row cannot be found from the middle of the file.
                CsvInputReader when obj.Size > target => StreamParts(obj.Size, target, IsCompressedName(obj.Key) ? CompressedExpansion : 1),
                ParquetInputReader when obj.Size > target => await RowGroupPartsAsync(stores.Resolve(StoreLocation.Parse(input.Path)), obj.Key, target, cancellationToken).ConfigureAwait(false),
                _ => [],
            };
            if (parts.Count <= 1) result.Add(obj);
            else result.AddRange(parts.Select(part => obj with { Part = part }));
        }
        return result;
    }

    /// <summary>
    /// Whether an object can be cut into byte ranges at its newlines, from its first bytes: not a gzip or zstd stream
    /// (whatever its name), not UTF-16 or UTF-32 text (its newlines are not the byte 0x0A) and, for JSON, not one array
    /// (<c>[{…}, …]</c>) or values written over many lines (<c>jq</c>'s output) — those cannot be read from the middle.
    /// </summary>
    private static async Task<bool> CutsAtNewlinesAsync(IObjectStore store, string key, bool json, CancellationToken cancellationToken)
    {
        try
        {
            await using var content = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            var (layout, prefix) = await JsonArraySplitter.LayoutAsync(content, cancellationToken).ConfigureAwait(false);
            return Decompression.Detect(prefix) == StreamCompression.None && !Decompression.IsWideText(prefix) && !(json && layout != JsonLayout.Lines);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return true; // unreadable now: its read task quarantines it, naming the object, as for any other
        }
    }

    /// <summary>⌈size / target⌉ byte ranges of (nearly) equal length.</summary>
    public static IReadOnlyList<ObjectPart> ByteParts(long size, long target)
    {
        if (size <= target) return [];
        var count = (int)Math.Min(MaxParts, (size + target - 1) / target);
        var parts = new ObjectPart[count];
        for (var i = 0; i < count; i++)
        {
            var start = (long)((Int128)size * i / count);
            var end = (long)((Int128)size * (i + 1) / count);
            parts[i] = new ObjectPart(i, count, PartUnit.Bytes, start, end, end - start);
        }
        return parts;
    }

    private static bool IsCompressedName(string key) =>
        key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || key.EndsWith(".zst", StringComparison.OrdinalIgnoreCase);

    private static ObjectPart[] StreamParts(long size, long target, int expansion = CompressedExpansion)
    {
        var expanded = (Int128)size * expansion;
        if (expanded <= target) return [];
        var count = (int)Math.Min(MaxParts, (long)((expanded + target - 1) / target));
        var parts = new ObjectPart[count];
        for (var i = 0; i < count; i++)
        {
            var start = (long)((Int128)size * i / count);
            var end = (long)((Int128)size * (i + 1) / count);
            parts[i] = new ObjectPart(i, count, PartUnit.Stream, i, i + 1, end - start);
        }
        return parts;
    }

    /// <summary>Row groups packed up to the target from the file's footer; none when it is not a readable Parquet file (the reader reports that).</summary>
    private static async Task<IReadOnlyList<ObjectPart>> RowGroupPartsAsync(IObjectStore store, string key, long target, CancellationToken cancellationToken)
    {
        (long Rows, long Bytes)[] groups;
        try
        {
            await using var content = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetReader.CreateAsync(content, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            groups = reader.Metadata!.RowGroups.Select(g => (g.NumRows, g.TotalCompressedSize ?? g.TotalByteSize)).ToArray();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return [];
        }
        var ranges = new List<(int Start, int End, long FirstRow, long Bytes)>();
        long row = 0;
        for (var g = 0; g < groups.Length; g++)
        {
            if (ranges.Count > 0 && ranges[^1] is var last && last.Bytes + groups[g].Bytes <= target)
                ranges[^1] = last with { End = g + 1, Bytes = last.Bytes + groups[g].Bytes };
            else
                ranges.Add((g, g + 1, row, groups[g].Bytes));
            row += groups[g].Rows;
        }
        return ranges.Select((r, i) => new ObjectPart(i, ranges.Count, PartUnit.RowGroups, r.Start, r.End, r.Bytes, r.FirstRow)).ToArray();
    }
}
