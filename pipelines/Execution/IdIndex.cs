using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// One document's fate as the id index records it: kept in a shard, or dropped by a stage (reason, detail, twin).
/// <see cref="Shard"/> is the output object holding its row: the curated shard, or the drops file.
/// </summary>
public sealed record IdIndexEntry(string Id, string Source, long Position, string? Shard, string? Stage, string? Reason, string? Detail, string? Twin)
{
    [JsonIgnore] public bool Kept => Stage is null;

    /// <summary>The shard number of the object holding the row (part-NNNNN), or null.</summary>
    [JsonIgnore]
    public int? ShardNumber => Shard is { } key && System.Text.RegularExpressions.Regex.Match(key, @"part-(\d+)") is { Success: true } m
        ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// Where an output's id index lies: <see cref="Buckets"/> objects named by <see cref="IdIndex.BucketKey"/> under the folder.
/// <see cref="SharedIds"/> counts the ids that more than one document of the run holds (inputs that reuse an id); the
/// smallest of them is <see cref="SharedIdExample"/>, held by <see cref="SharedIdExampleCount"/> documents.
/// </summary>
public sealed record IdIndexSection(string Folder, int Buckets, long Entries,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long SharedIds = 0,
    string? SharedIdExample = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int SharedIdExampleCount = 0)
{
    /// <summary>The job warning for <see cref="SharedIds"/> (null when every id is unique).</summary>
    public string? SharedIdsWarning() => SharedIds == 0 ? null :
        $"{SharedIds:N0} document id{(SharedIds == 1 ? " is" : "s are")} held by more than one document (the first: '{SharedIdExample}', " +
        $"{SharedIdExampleCount} documents): lookups, twin ids and the embeddings output name a document by its id, so the drop explorer " +
        "and lineage show the first of them (the id index lists every one) and such documents' vectors may be swapped; give each input record " +
        "its own id, or leave inputs[].idField unset to use source#position.";
}

/// <summary>
/// The output's id index, written with its manifest: every document id of the run (kept and dropped) hashed into a
/// bucket object of at most ~<see cref="TargetBucketEntries"/> entries, sorted by id. A lookup reads the manifest, one
/// bucket and, for a kept document, its shard: three objects whatever the corpus size. Built by streaming the run's
/// shards and drops into per-bucket spool files (bounded memory: one bucket is sorted at a time).
/// </summary>
public static class IdIndex
{
    public const int TargetBucketEntries = 20_000;
    public const string FolderName = "index";

    /// <summary>One entry per line: the shared options without indentation.</summary>
    private static readonly JsonSerializerOptions Line = new(CurationJson.Options) { WriteIndented = false };

    /// <summary>How <see cref="WriteLine"/> writes: <see cref="Line"/>'s encoder (the serializer's default escaping), no indentation.</summary>
    private static readonly JsonWriterOptions LineWriter = new() { Encoder = Line.Encoder, Indented = false, SkipValidation = true };

    /// <summary>
    /// One entry as its index line: the bytes <c>JsonSerializer.Serialize(entry, Line)</c> writes (camelCase, in declaration
    /// order, nulls left out, the same escaping), without the serializer's per-call metadata lookups and array.
    /// </summary>
    internal static void WriteLine(Utf8JsonWriter json, IdIndexEntry entry)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, entry.Id);
        json.WriteString("source"u8, entry.Source);
        json.WriteNumber("position"u8, entry.Position);
        if (entry.Shard is not null) json.WriteString("shard"u8, entry.Shard);
        if (entry.Stage is not null) json.WriteString("stage"u8, entry.Stage);
        if (entry.Reason is not null) json.WriteString("reason"u8, entry.Reason);
        if (entry.Detail is not null) json.WriteString("detail"u8, entry.Detail);
        if (entry.Twin is not null) json.WriteString("twin"u8, entry.Twin);
        json.WriteEndObject();
        json.Flush();
    }

    public static string BucketKey(int bucket) => $"ids-{bucket:D5}.jsonl";

    /// <summary>A bucket's ids held by more than one entry: how many, and the smallest with its number of entries.</summary>
    private readonly record struct SharedIds(long Count, string? First, int FirstCount);

    /// <summary>FNV-1a over the id's UTF-8 bytes: stable across processes and .NET versions (string.GetHashCode is not).</summary>
    public static int BucketOf(string id, int buckets) => (int)(Fnv(Encoding.UTF8.GetBytes(id)) % (uint)buckets);

    private static uint Fnv(ReadOnlySpan<byte> utf8)
    {
        var hash = 2166136261u;
        foreach (var b in utf8) hash = (hash ^ b) * 16777619u;
        return hash;
    }

    /// <summary>
    /// Writes the index of one run's output (its own shards and drops; keys relative to the corpus root, as in the
    /// manifest) under <paramref name="folder"/> and returns its section for the manifest. Create-once: the content is
    /// deterministic, so a rerun finds the same objects.
    /// </summary>
    /// <param name="gathered">
    /// When given (and <paramref name="shards"/> and <paramref name="drops"/> pair up: the <c>i</c>-th of each written by the
    /// same task), the entries of shard <c>i</c> and drops file <c>i</c> as <see cref="WriteShardEntriesAsync"/> serialized them
    /// when that task wrote them, or null: then those two files are read here.
    /// </param>
    public static async Task<IdIndexSection> WriteAsync(IObjectStore output, StoreLocation location, string folder,
        IReadOnlyList<OutputObject> shards, IReadOnlyList<OutputObject> drops, CancellationToken cancellationToken = default,
        Func<int, CancellationToken, Task<(byte[] Entries, string Name)?>>? gathered = null)
    {
        var entries = shards.Sum(s => s.Rows) + drops.Sum(d => d.Rows);
        var buckets = (int)Math.Max(1, (entries + TargetBucketEntries - 1) / TargetBucketEntries);
        await using var spools = new BucketSpools(buckets);
        // The files are read in parallel, so a bucket's entries arrive in any order: the sort below is total, so the
        // objects do not depend on it.
        (OutputObject File, bool Kept)[][] groups = gathered is not null && shards.Count == drops.Count
            ? shards.Select((s, i) => new[] { (s, true), (drops[i], false) }).ToArray()
            : shards.Select(s => (s, true)).Concat(drops.Select(d => (d, false))).Select(item => new[] { item }).ToArray();
        await Parallel.ForAsync(0, groups.Length, cancellationToken, async (g, ct) =>
        {
            using var buffer = spools.Buffer();
            var group = groups[g];
            if (group.Length == 2 && await gathered!(g, ct).ConfigureAwait(false) is { } found)
                buffer.AddSerialized(found.Entries, found.Name, group.Sum(f => f.File.Rows));
            else
                foreach (var (file, kept) in group)
                    await foreach (var entry in ReadEntriesAsync(output, location, file.Key, kept, ct).ConfigureAwait(false))
                        buffer.Add(entry);
            buffer.Flush();
        }).ConfigureAwait(false);

        var shared = new SharedIds[buckets];
        await Parallel.ForAsync(0, buckets, cancellationToken, async (b, ct) =>
        {
            var (bytes, bucketShared) = spools.SortedLines(b);
            shared[b] = bucketShared;
            await output.CreateOnceAsync(location.KeyOf($"{folder}/{BucketKey(b)}"), (s, c) => s.WriteAsync(bytes, c).AsTask(), ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
        var example = shared.Where(x => x.First is not null).OrderBy(x => x.First, StringComparer.Ordinal).FirstOrDefault(); // default: none shared
        return new IdIndexSection(folder, buckets, entries, shared.Sum(x => x.Count), example.First, example.FirstCount);
    }

    /// <summary>
    /// The entries of one published shard and its drops file (read from <paramref name="shard"/> and <paramref name="drops"/>,
    /// keys relative to the corpus root as in the manifest) serialized into <paramref name="target"/> as the manifest's
    /// <see cref="WriteAsync"/> takes them (<c>gathered</c>): each entry's bucket-independent hash and record, so the task that
    /// writes the shard does this work in parallel with the others and the manifest only sorts the entries into buckets.
    /// Returns the number of entries.
    /// </summary>
    public static async Task<long> WriteShardEntriesAsync(Stream target, Stream shard, string shardKey, Stream drops, string dropsKey,
        CancellationToken cancellationToken = default)
    {
        using var encoder = new EntryEncoder();
        var hash = new byte[4];
        long count = 0;
        void Add(IdIndexEntry entry)
        {
            // The target buffers (a spool file): each record goes straight into it, no chunk of our own.
            BitConverter.TryWriteBytes(hash, encoder.Encode(entry));
            target.Write(hash);
            target.Write(encoder.Record);
            count++;
        }
        await foreach (var entry in EntriesAsync(shard, shardKey, kept: true, cancellationToken).ConfigureAwait(false)) Add(entry);
        await foreach (var entry in EntriesAsync(drops, dropsKey, kept: false, cancellationToken).ConfigureAwait(false)) Add(entry);
        return count;
    }

    /// <summary>The entries of one output object read from the output: a shard's rows (kept) or a drops file's.</summary>
    private static async IAsyncEnumerable<IdIndexEntry> ReadEntriesAsync(IObjectStore output, StoreLocation location, string key, bool kept,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var content = kept
            ? await output.OpenReadAsync(location.KeyOf(key), cancellationToken).ConfigureAwait(false)
            : await OpenBufferedAsync(output, location.KeyOf(key), cancellationToken).ConfigureAwait(false);
        await foreach (var entry in EntriesAsync(content, key, kept, cancellationToken).ConfigureAwait(false)) yield return entry;
    }

    /// <summary>The entries of one output object's content (<paramref name="key"/>: its key in the manifest): a shard's rows (kept) or a drops file's.</summary>
    private static async IAsyncEnumerable<IdIndexEntry> EntriesAsync(Stream content, string key, bool kept,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (kept)
        {
            await foreach (var (id, source, position) in ReadIdsAsync(content, key, cancellationToken).ConfigureAwait(false))
                yield return new IdIndexEntry(id, source, position, key, null, null, null, null);
            yield break;
        }
        await using var reader = await ParquetTableReader.OpenAsync(content, cancellationToken).ConfigureAwait(false);
        await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            foreach (var entry in DropEntries(batch, key)) yield return entry;
    }

    /// <summary>
    /// One entry as a spool record: the id's and the JSON line's UTF-8 bytes, each length-prefixed (<see cref="Record"/>,
    /// valid until the next call), and the id's FNV-1a hash (its bucket is the hash modulo the bucket count).
    /// </summary>
    private sealed class EntryEncoder : IDisposable
    {
        private readonly ArrayBufferWriter<byte> _line = new(256);
        private readonly ArrayBufferWriter<byte> _record = new(512);
        private readonly Utf8JsonWriter _json = new(Stream.Null, LineWriter);

        public ReadOnlySpan<byte> Record => _record.WrittenSpan;

        public uint Encode(IdIndexEntry entry)
        {
            _line.ResetWrittenCount();
            _json.Reset(_line);
            WriteLine(_json, entry);
            var line = _line.WrittenSpan;
            var idLength = Encoding.UTF8.GetByteCount(entry.Id);
            var size = 8 + idLength + line.Length;
            _record.ResetWrittenCount();
            var span = _record.GetSpan(size);
            BitConverter.TryWriteBytes(span, idLength);
            Encoding.UTF8.GetBytes(entry.Id, span[4..]);
            BitConverter.TryWriteBytes(span[(4 + idLength)..], line.Length);
            line.CopyTo(span[(8 + idLength)..]);
            _record.Advance(size);
            return Fnv(span.Slice(4, idLength));
        }

        public void Dispose() => _json.Dispose();
    }

    /// <summary>
    /// One spool file per bucket of serialized entries: each record is the id's and the JSON line's UTF-8 bytes, length-prefixed,
    /// so a bucket is sorted without parsing its lines again. Readers fill a local <see cref="Writer"/> and append it to the
    /// buckets under their locks in chunks (bounded memory: about <see cref="FlushBytes"/> per reader, one bucket sorted at a time).
    /// </summary>
    private sealed class BucketSpools(int buckets) : IAsyncDisposable
    {
        private const int FlushBytes = 1 << 20;
        private readonly SpoolFile?[] _spools = new SpoolFile?[buckets];
        private readonly Lock[] _locks = Enumerable.Range(0, buckets).Select(_ => new Lock()).ToArray();

        public Writer Buffer() => new(this);

        private void Append(int bucket, ReadOnlySpan<byte> records)
        {
            lock (_locks[bucket])
            {
                var spool = _spools[bucket] ??= SpoolFile.Create();
                spool.Stream.Write(records);
            }
        }

        /// <summary>
        /// The bucket's lines sorted by id (then by line: order stays total), each ending in a newline, and its ids that
        /// more than one entry holds.
        /// </summary>
        public (byte[] Lines, SharedIds Shared) SortedLines(int bucket)
        {
            byte[] records;
            lock (_locks[bucket])
            {
                if (_spools[bucket] is not { } spool) return ([], default);
                records = new byte[spool.Length];
                spool.Stream.Position = 0;
                spool.Stream.ReadExactly(records);
            }
            var lines = new List<(string Id, int Start, int Length)>();
            var total = 0;
            for (var at = 0; at < records.Length;)
            {
                var idLength = BitConverter.ToInt32(records, at);
                var id = Encoding.UTF8.GetString(records, at + 4, idLength);
                at += 4 + idLength;
                var lineLength = BitConverter.ToInt32(records, at);
                lines.Add((id, at + 4, lineLength));
                at += 4 + lineLength;
                total += lineLength + 1;
            }
            // A document a run both kept and dropped cannot happen, but two inputs may share an id: ties compare the lines.
            lines.Sort((x, y) => string.CompareOrdinal(x.Id, y.Id) is var c and not 0 ? c
                : string.CompareOrdinal(Encoding.UTF8.GetString(records, x.Start, x.Length), Encoding.UTF8.GetString(records, y.Start, y.Length)));
            var text = new byte[total];
            var written = 0;
            var shared = default(SharedIds);
            for (var i = 0; i < lines.Count; i++)
            {
                var (id, start, length) = lines[i];
                records.AsSpan(start, length).CopyTo(text.AsSpan(written));
                written += length;
                text[written++] = (byte)'\n';
                if (i == 0 || lines[i - 1].Id != id) continue;
                if (i >= 2 && lines[i - 2].Id == id) // a third or later holder of the same id
                {
                    if (shared.First == id) shared = shared with { FirstCount = shared.FirstCount + 1 };
                    continue;
                }
                shared = shared.First is null ? new SharedIds(1, id, 2) : shared with { Count = shared.Count + 1 };
            }
            return (text, shared);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var spool in _spools) if (spool is not null) await spool.DisposeAsync().ConfigureAwait(false);
        }

        /// <summary>One reader's entries on their way to the buckets' spools.</summary>
        public sealed class Writer(BucketSpools spools) : IDisposable
        {
            private readonly Dictionary<int, ArrayBufferWriter<byte>> _pending = [];
            private readonly EntryEncoder _encoder = new();
            private long _bytes;

            public void Add(IdIndexEntry entry)
            {
                var hash = _encoder.Encode(entry);
                Add(hash, _encoder.Record);
            }

            private void Add(uint hash, ReadOnlySpan<byte> record)
            {
                var bucket = (int)(hash % (uint)spools._spools.Length);
                if (!_pending.TryGetValue(bucket, out var records)) _pending[bucket] = records = new ArrayBufferWriter<byte>();
                records.Write(record);
                _bytes += record.Length;
                if (_bytes >= FlushBytes) Flush();
            }

            /// <summary>
            /// The entries <see cref="WriteShardEntriesAsync"/> serialized (<paramref name="name"/>: the object they were read
            /// from, for errors), each to its bucket; they must be exactly <paramref name="expected"/> entries.
            /// </summary>
            public void AddSerialized(byte[] entries, string name, long expected)
            {
                long count = 0;
                for (var at = 0; at < entries.Length; count++)
                {
                    var idLength = at + 8 <= entries.Length ? BitConverter.ToInt32(entries, at + 4) : -1;
                    var lineAt = at + 8 + idLength;
                    var lineLength = idLength >= 0 && lineAt + 4 <= entries.Length ? BitConverter.ToInt32(entries, lineAt) : -1;
                    if (lineLength < 0 || lineAt + 4 + lineLength > entries.Length)
                        throw new InvalidDataException($"{name}: id index entry {count} at byte {at} is cut short or corrupt");
                    Add(BitConverter.ToUInt32(entries, at), entries.AsSpan(at + 4, 8 + idLength + lineLength));
                    at = lineAt + 4 + lineLength;
                }
                if (count != expected)
                    throw new InvalidDataException($"{name} holds {count} id index entries, but its shard and drops hold {expected} rows");
            }

            public void Flush()
            {
                foreach (var (bucket, records) in _pending) spools.Append(bucket, records.WrittenSpan);
                _pending.Clear();
                _bytes = 0;
            }

            public void Dispose() => _encoder.Dispose();
        }
    }

    /// <summary>The entry of one id in an index, or null: reads exactly one bucket object.</summary>
    public static async Task<IdIndexEntry?> LookupAsync(IObjectStore output, StoreLocation location, IdIndexSection index, string id,
        CancellationToken cancellationToken = default)
    {
        var key = location.KeyOf($"{index.Folder}/{BucketKey(BucketOf(id, index.Buckets))}");
        await using var content = await output.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(content, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            var entry = JsonSerializer.Deserialize<IdIndexEntry>(line, Line)!;
            var order = string.CompareOrdinal(entry.Id, id);
            if (order == 0) return entry;
            if (order > 0) break;
        }
        return null;
    }

    /// <summary>Reads one kept document (id, source, text) from its shard: the object the index named.</summary>
    public static async Task<(string Id, string Source, string Text)?> ReadDocumentAsync(IObjectStore output, StoreLocation location, string shardKey,
        string id, CancellationToken cancellationToken = default)
    {
        await using var content = await output.OpenReadAsync(location.KeyOf(shardKey), cancellationToken).ConfigureAwait(false);
        return await JsonlShardFile.FindDocumentAsync(content, shardKey, id, cancellationToken).ConfigureAwait(false);
    }

    private static async IAsyncEnumerable<(string Id, string Source, long Position)> ReadIdsAsync(Stream content, string key,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (key.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            // Only the three small column chunks are read: from the object itself where it seeks (a local file, a ranged
            // blob stream), so the shard's text is neither read nor copied; a stream that cannot seek is buffered first.
            await using var reader = await ParquetTableReader.OpenAsync(content, cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadColumnsAsync([Columns.Id, Columns.Source, Columns.Position], cancellationToken).ConfigureAwait(false))
                for (var i = 0; i < batch.RowCount; i++)
                    yield return (batch.Ids[i], batch.Sources[i], batch.Positions[i]);
            yield break;
        }
        // A JSON Lines shard carries the position as a field, as the Parquet shard's column.
        await foreach (var (id, source, _, fields) in JsonlShardFile.ReadDocumentFieldsAsync(content, key, [Columns.Position], cancellationToken).ConfigureAwait(false))
            yield return (id, source, long.Parse(fields[0]!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The rows of a drops-file batch as index entries (<paramref name="key"/>: the drops file), in row order.</summary>
    public static IEnumerable<IdIndexEntry> DropEntries(RecordBatch batch, string key)
    {
        foreach (var drop in ShuffleTable.Rows<DropRow>(batch, key))
            yield return new IdIndexEntry(drop.Id, drop.Source, drop.Position, key, drop.Stage, drop.Reason, NullIfEmpty(drop.Detail), NullIfEmpty(drop.TwinId));
    }

    private static async Task<MemoryStream> OpenBufferedAsync(IObjectStore store, string key, CancellationToken cancellationToken) =>
        new(await store.ReadBytesAsync(key, cancellationToken).ConfigureAwait(false));

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
