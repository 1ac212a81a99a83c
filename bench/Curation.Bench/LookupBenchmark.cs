using System.Collections.Concurrent;
using System.Diagnostics;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Bench;

/// <summary>
/// <c>lookup</c>: the drop explorer's question "what happened to this id?" on an output of <c>--docs</c> documents
/// (90 % kept in shards of 20,000, 10 % dropped as duplicates of kept ones). Ours: manifest → one id-index bucket →
/// the kept document's shard (and one more bucket per twin). Reference, in the same run: the same answer by scanning
/// every shard and drops file (what there was without the index). Prints objects read per lookup and the times.
/// </summary>
public static class LookupBenchmark
{
    private const int ShardRows = 20_000;
    private static readonly string[] Words = Enumerable.Range(0, 5000).Select(i => $"w{i:x}").ToArray();

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var root = Path.Combine(Path.GetTempPath(), $"curation-bench-lookup-{Guid.NewGuid():N}");
        try
        {
            var counting = new CountingStore(new LocalFolderStore(root));
            var location = StoreLocation.Parse("curated/lookup");
            var clock = Stopwatch.StartNew();
            var (shards, drops) = await GenerateAsync(counting, location, options.Docs, options.Seed);
            Console.WriteLine($"output:    {options.Docs:N0} documents, {shards.Count} shards + {drops.Count} drops files (generated in {clock.Elapsed.TotalSeconds:0.0} s, not timed)");
            clock.Restart();
            var index = await IdIndex.WriteAsync(counting, location, IdIndex.FolderName, shards, drops);
            Console.WriteLine($"index:     {index.Entries:N0} entries in {index.Buckets} buckets, written in {clock.Elapsed.TotalSeconds:0.00} s (once, with the manifest)");
            var manifest = new Manifest
            {
                JobId = "bench-lookup", JobName = "lookup", Seed = options.Seed, Schema = [], Shards = shards, Drops = drops, Quarantine = [],
                Accounting = new Accounting { Stages = [] }, IdIndex = index,
            };
            await counting.WriteJsonAsync(location.KeyOf(Manifest.FileName), manifest, WriteCondition.CreateOnly);

            var random = new Random(options.Seed + 1);
            var kept = options.Docs - options.Docs / 10;
            var ids = Enumerable.Range(0, 5).Select(_ => DocId(random.Next(kept))).Concat(Enumerable.Range(0, 5).Select(_ => DocId(kept + random.Next(options.Docs / 10)))).ToArray();
            var failures = 0;
            double oursTotal = 0, referenceTotal = 0;
            foreach (var id in ids)
            {
                counting.Reset();
                clock.Restart();
                var (m, _) = await counting.TryReadJsonAsync<Manifest>(location.KeyOf(Manifest.FileName), CurationJson.Options);
                var chain = await DocumentLineage.FollowAsync(counting, location, m!, id);
                var ours = clock.Elapsed.TotalSeconds;
                var objects = counting.Distinct;
                clock.Restart();
                var scanned = await ScanAsync(counting, location, manifest, id);
                var reference = clock.Elapsed.TotalSeconds;
                oursTotal += ours;
                referenceTotal += reference;
                var end = chain.Count > 0 ? chain[^1] : null;
                var ok = end is { Entry.Kept: true, Text: not null } && scanned == chain[0].Entry.Kept;
                var limit = chain.Count + 2; // manifest, one bucket per step, the kept end's shard
                if (!ok || objects > limit || (chain.Count == 1 && objects > 3)) failures++;
                Console.WriteLine($"lookup:    {id} {(chain[0].Entry.Kept ? "kept   " : "dropped")} chain {chain.Count}  {objects} objects read  ours {ours * 1000,7:0.0} ms  scan {reference * 1000,8:0.0} ms{(ok ? "" : "  WRONG")}");
            }
            Console.WriteLine($"ours:      {oursTotal / ids.Length * 1000:0.0} ms per lookup (manifest + index bucket(s) + the kept document's shard)");
            Console.WriteLine($"reference: {referenceTotal / ids.Length * 1000:0.0} ms per lookup (scan every shard and drops file for the id)");
            Console.WriteLine($"ratio:     {referenceTotal / oursTotal:0.0} × the scan's speed");
            if (oursTotal / ids.Length >= 1.0) failures++;
            return failures == 0 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string DocId(int n) => $"doc-{n:D8}";

    private static async Task<(List<OutputObject> Shards, List<OutputObject> Drops)> GenerateAsync(IObjectStore store, StoreLocation location, int documents, int seed)
    {
        var random = new Random(seed);
        var kept = documents - documents / 10;
        var shards = new List<OutputObject>();
        var drops = new List<OutputObject>();
        var shardCount = (kept + ShardRows - 1) / ShardRows;
        for (var shard = 0; shard < shardCount; shard++)
        {
            var batch = RecordBatch.ForDocuments(ShardRows);
            for (var n = shard * ShardRows; n < Math.Min(kept, (shard + 1) * ShardRows); n++)
            {
                batch.Ids.Add(DocId(n));
                batch.Texts.Add($"document {n} " + string.Join(' ', Enumerable.Range(0, 12).Select(_ => Words[random.Next(Words.Length)])));
                batch.Sources.Add($"corpus/part-{shard:D5}.jsonl");
                batch.Positions.Add(n - shard * ShardRows);
            }
            shards.Add(await WriteAsync(store, location, OutputStage.ShardKind, OutputStage.ShardFile(shard), Columns.Core, batch));

            var dropped = RecordBatch.WithSchema(DropsSchema.Columns);
            var perShard = documents / 10 / shardCount + 1;
            for (var n = kept + shard * perShard; n < Math.Min(documents, kept + (shard + 1) * perShard); n++)
                DropsSchema.Append(dropped, DocId(n), $"corpus/part-{shard:D5}.jsonl", n, "02-exact_dedup", ExactDedupStage.DuplicateReason, null,
                    DocId(random.Next(kept)));
            drops.Add(await WriteAsync(store, location, OutputStage.DropsKind, $"drops/{OutputStage.ShardFile(shard)}", DropsSchema.Columns, dropped));
        }
        return (shards, drops);
    }

    private static async Task<OutputObject> WriteAsync(IObjectStore store, StoreLocation location, string kind, string key, IReadOnlyList<ColumnSchema> schema, RecordBatch batch)
    {
        var info = await store.WriteAsync(location.KeyOf(key), async (stream, ct) =>
        {
            await using var writer = await ParquetTableWriter.CreateAsync(stream, schema, cancellationToken: ct);
            await writer.WriteAsync(batch, ct);
        }, WriteCondition.CreateOnly);
        return new OutputObject(kind, key, batch.RowCount, info.Size, "");
    }

    /// <summary>The reference: is the id kept? Scans every shard's and drops file's id column.</summary>
    private static async Task<bool?> ScanAsync(IObjectStore store, StoreLocation location, Manifest manifest, string id)
    {
        foreach (var (files, kept) in new[] { (manifest.Shards, true), (manifest.Drops, false) })
            foreach (var file in files)
            {
                await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(location.KeyOf(file.Key))));
                await foreach (var batch in reader.ReadColumnsAsync([Columns.Id]))
                    if (batch.Ids.List.Contains(id)) return kept;
            }
        return null;
    }

    /// <summary>Counts the distinct objects read (opened) through it.</summary>
    private sealed class CountingStore(IObjectStore inner) : IObjectStore
    {
        private readonly ConcurrentDictionary<string, bool> _read = new();
        public int Distinct => _read.Count;
        public void Reset() => _read.Clear();
        public string Location => inner.Location;
        public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
        public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            _read[key] = true;
            return inner.OpenReadAsync(key, cancellationToken);
        }
        public Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(key, produce, condition, cancellationToken);
        public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    }
}
