using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Consecutive document stages fused into one pass write exactly what the unfused chain writes: the same shard
/// SHA-256s, the same drops per stage, the same books, the same exact-dedup hash files (tapped by the pass); the
/// intermediate shards are never written.
/// </summary>
public sealed class FusedDocumentStagesTests : IDisposable
{
    private readonly TempDirectory _temp = new("fused-document");

    public void Dispose() => _temp.Dispose();

    /// <summary>Runs <paramref name="spec"/> in-process with document-stage fusion on or off; its output and data folder.</summary>
    private async Task<(CuratedOutput Output, string Root)> RunAsync(JobSpec spec, string name, bool fuse)
    {
        var root = _temp.Combine(name);
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        using (FusedDocumentPass.Use(fuse))
            await InProcessJob.RunAsync(spec, stores, services);
        return (await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path), root);
    }

    /// <summary>Both runs balance, with the same stages, counts and drop reasons.</summary>
    private static void AssertSameBooks(CuratedOutput unfused, CuratedOutput fused)
    {
        Assert.Empty(fused.Manifest.Accounting.Imbalances());
        Assert.Equal(unfused.Manifest.Accounting.Stages.Count, fused.Manifest.Accounting.Stages.Count);
        for (var s = 0; s < unfused.Manifest.Accounting.Stages.Count; s++)
        {
            var (a, b) = (unfused.Manifest.Accounting.Stages[s], fused.Manifest.Accounting.Stages[s]);
            Assert.Equal((a.Stage, a.In, a.Kept), (b.Stage, b.In, b.Kept));
            Assert.Equal(a.Dropped.OrderBy(p => p.Key), b.Dropped.OrderBy(p => p.Key));
        }
    }

    [Fact]
    public async Task Fused_pass_writes_the_unfused_chains_bytes_drops_and_books()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 13);
        for (var i = 0; i < 3; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(80_000));

        var spec = new JobSpec
        {
            Name = "fused",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 64 * 1024 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 200, MinWords = 30 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/fused" },
        };
        var (unfused, unfusedRoot) = await RunAsync(spec, "unfused", fuse: false);
        var (fused, fusedRoot) = await RunAsync(spec, "fused", fuse: true);

        Assert.True(unfused.Manifest.Shards.Count > 1);
        Assert.Equal(unfused.ShardHashes, fused.ShardHashes);
        Assert.Equal(unfused.KeptIds, fused.KeptIds);
        Assert.Equal(unfused.Drops, fused.Drops);
        Assert.Contains(fused.Drops, d => d.Stage == "quality_filter");
        Assert.Equal(unfused.Manifest.Drops.Select(d => (d.Key, d.Sha256)), fused.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        AssertSameBooks(unfused, fused);

        // exact_dedup's hash files: made by the fused pass as it wrote the shards (its tap), by the hash phase itself when
        // unfused; the same bytes either way. The output's id index and report (built in parallel) are the same objects too.
        AssertSameHashFilesIndexAndReport(unfused, unfusedRoot, fusedRoot);

        // One read and one write: normalize's own shard data exists only in the unfused run.
        static int NormalizeShards(string root) => Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories)
            .Count(f => Path.GetFileName(Path.GetDirectoryName(f))!.EndsWith("-normalize", StringComparison.Ordinal) && !f.EndsWith(".drops.parquet", StringComparison.Ordinal));
        Assert.True(NormalizeShards(unfusedRoot) > 0);
        Assert.Equal(0, NormalizeShards(fusedRoot));
    }

    /// <summary>
    /// With no document stage after the read, the read's own write of the shard feeds the next stage's tap: exact_dedup's
    /// hash files and the output's report tallies are made as the read writes, with the unfused run's bytes.
    /// </summary>
    [Fact]
    public async Task The_read_taps_the_next_stage_with_the_unfused_runs_bytes()
    {
        var input = _temp.Combine("corpus-read");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 17);
        for (var i = 0; i < 3; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(60_000));
        var spec = new JobSpec
        {
            Name = "fused",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
            Stages = [new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/fused" },
        };
        var (unfused, unfusedRoot) = await RunAsync(spec, "read-unfused", fuse: false);
        var (fused, fusedRoot) = await RunAsync(spec, "read-fused", fuse: true);

        Assert.True(unfused.Manifest.Shards.Count > 1);
        Assert.Equal(unfused.ShardHashes, fused.ShardHashes);
        Assert.Equal(unfused.KeptIds, fused.KeptIds);
        Assert.Equal(unfused.Drops, fused.Drops);
        Assert.Contains(fused.Drops, d => d.Stage == "exact_dedup");
        AssertSameBooks(unfused, fused);
        AssertSameHashFilesIndexAndReport(unfused, unfusedRoot, fusedRoot);
        // The output's tallies exist only where the read tapped: unfused, the manifest read every shard for the report.
        static int Tallies(string root) => Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories)
            .Count(f => Path.GetFileName(Path.GetDirectoryName(f)) == "report");
        Assert.Equal(0, Tallies(unfusedRoot));
        Assert.Equal(fused.Manifest.Shards.Count, Tallies(fusedRoot));
    }

    private static void AssertSameHashFilesIndexAndReport(CuratedOutput unfused, string unfusedRoot, string fusedRoot)
    {
        static Dictionary<string, string> Digests(IEnumerable<string> files) => files.ToDictionary(
            f => Path.GetFileName(f), f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))), StringComparer.Ordinal);
        static Dictionary<string, string> HashFiles(string root) => Digests(Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == ExactDedupStage.HashPhase
                        && Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(f)))!.EndsWith("-exact_dedup", StringComparison.Ordinal)));
        static Dictionary<string, string> IndexAndReport(string root) => Digests(Directory.EnumerateFiles(Path.Combine(root, "curated", "fused"), "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".jsonl", StringComparison.Ordinal) || Path.GetFileName(f) == "report.json"));
        var hashFiles = HashFiles(unfusedRoot);
        Assert.Equal(unfused.Manifest.Shards.Count, hashFiles.Count);
        Assert.Equal(hashFiles, HashFiles(fusedRoot));
        var indexAndReport = IndexAndReport(unfusedRoot);
        Assert.Contains("report.json", indexAndReport.Keys);
        Assert.Contains(indexAndReport.Keys, k => k.StartsWith("ids-", StringComparison.Ordinal));
        Assert.Equal(indexAndReport, IndexAndReport(fusedRoot));
    }

    /// <summary>
    /// tokenize is a per-document stage bound to its silo's tokenizer per task: it heads the pass of tokenize → normalize →
    /// quality_filter (its token counts reach the later members and the output) with the unfused chain's bytes, drops and books.
    /// </summary>
    [Fact]
    public async Task Tokenize_joins_the_pass_with_the_unfused_chains_bytes_drops_and_books()
    {
        var input = _temp.Combine("tokenize-corpus");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 31);
        for (var i = 0; i < 2; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(60_000));
        // Texts with no word pieces (tokenize drops them: no_tokens) and a short one (quality_filter drops it after tokenize).
        await File.WriteAllLinesAsync(Path.Combine(input, "docs-empty.jsonl"),
            ["{\"id\":\"e-1\",\"text\":\"\\u0001\\u0002\\u0003\"}", "{\"id\":\"e-2\",\"text\":\"\\u0007\"}", "{\"id\":\"e-3\",\"text\":\"too short\"}"]);

        var spec = new JobSpec
        {
            Name = "fused-tokenize",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
            Stages = [new TokenizeStageSpec(), new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 200, MinWords = 30 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/tokenized" },
        };
        var (unfused, unfusedRoot) = await RunAsync(spec, "tokenize-unfused", fuse: false);
        var (fused, fusedRoot) = await RunAsync(spec, "tokenize-fused", fuse: true);

        Assert.True(unfused.Manifest.Shards.Count > 1);
        Assert.Equal(unfused.ShardHashes, fused.ShardHashes);
        Assert.Equal(unfused.KeptIds, fused.KeptIds);
        Assert.Equal(unfused.Drops, fused.Drops);
        Assert.Contains(fused.Drops, d => d.Stage == "tokenize" && d.Reason == TokenizeStage.NoTokens);
        Assert.Contains(fused.Drops, d => d.Stage == "quality_filter");
        Assert.Equal(unfused.Manifest.Drops.Select(d => (d.Key, d.Sha256)), fused.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        AssertSameBooks(unfused, fused);
        Assert.Contains(fused.Manifest.Accounting.Stages, a => a.Stage.EndsWith("-tokenize", StringComparison.Ordinal) && a.Dropped.ContainsKey(TokenizeStage.NoTokens));

        // The token counts reach the output; and one pass: neither normalize's nor tokenize's shards are written when fused.
        await using (var shard = File.OpenRead(Path.Combine(fusedRoot, "curated", "tokenized", fused.Manifest.Shards[0].Key)))
        await using (var reader = await ParquetTableReader.OpenAsync(shard))
            Assert.Contains(reader.Schema, c => c.Name == TokenizeStage.TokenCountColumn && c.Type == typeof(int));
        static int Shards(string root, string stage) => Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories)
            .Count(f => Path.GetFileName(Path.GetDirectoryName(f))!.EndsWith("-" + stage, StringComparison.Ordinal) && !f.EndsWith(".drops.parquet", StringComparison.Ordinal));
        Assert.True(Shards(unfusedRoot, "tokenize") > 0);
        Assert.Equal(0, Shards(fusedRoot, "normalize"));
        Assert.Equal(0, Shards(fusedRoot, "tokenize"));
    }

    /// <summary>
    /// The read task runs normalize and quality_filter in its own pass; a task killed inside it (at a seeded, printed moment:
    /// before or after a commit of a member's drops, a member's recorded stats, the tapped hash file or the shard) leaves
    /// no task committed, and running the job again writes the uninterrupted run's bytes, drops and books.
    /// </summary>
    [Fact]
    public async Task A_read_killed_inside_its_fused_pass_resumes_to_the_uninterrupted_bytes()
    {
        var input = _temp.Combine("kill-corpus");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 31);
        for (var i = 0; i < 2; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(60_000));
        var spec = new JobSpec
        {
            Name = "fused-kill",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
            Sharding = new ShardingSpec { TargetShardBytes = 48 * 1024 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 200, MinWords = 30 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/fused-kill" },
        };
        using var services = StageServices.CreateDefault();
        var referenceStores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("kill-reference") });
        await InProcessJob.RunAsync(spec, referenceStores, services);
        var reference = await CuratedOutput.ReadAsync(referenceStores.DataStore, "curated/fused-kill");
        Assert.True(reference.Manifest.Shards.Count > 1);
        Assert.True(FusedDocumentPass.Enabled);

        var seed = Environment.TickCount;
        var random = new Random(seed);
        var shardNumber = random.Next(reference.Manifest.Shards.Count);
        var shard = JobLayout.ShardName(shardNumber);
        string[] moments =
        [
            $"/00-read/{shard}.quarantine.parquet", $"/01-normalize/{shard}.drops.parquet", $"/02-quality_filter/{shard}.drops.parquet",
            $"/01-normalize/fused/{shard}.stats.json", $"/02-quality_filter/fused/{shard}.stats.json", $"/03-exact_dedup/hash/{shard}.parquet",
            $"/02-quality_filter/{shard}.parquet",
        ];
        var moment = moments[random.Next(moments.Length)];
        var afterApplied = random.Next(2) == 1;
        Console.WriteLine($"seed {seed}: killing the read of shard {shard} at its write of …{moment} ({(afterApplied ? "after" : "before")} it is applied)");

        var root = _temp.Combine("kill-resumed");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        var killed = 0;
        var killing = new KillingResolver(stores, key => key.EndsWith(moment, StringComparison.Ordinal) && Interlocked.Exchange(ref killed, 1) == 0, afterApplied);
        await Assert.ThrowsAsync<IOException>(() => InProcessJob.RunAsync(spec, killing, services));
        Assert.Equal(1, killed);
        var job = await JobContext.CreateOrLoadAsync(spec, stores);
        Assert.Null(await stores.DataStore.GetInfoAsync(job.Layout.TaskStats(0, ReadStage.StageName, ReadStage.ReadPhase, shardNumber)));

        await InProcessJob.RunAsync(spec, stores, services);
        var resumed = await CuratedOutput.ReadAsync(stores.DataStore, "curated/fused-kill");
        Assert.Equal(reference.ShardHashes, resumed.ShardHashes);
        Assert.Equal(reference.Drops, resumed.Drops);
        Assert.Equal(reference.Manifest.Drops.Select(d => (d.Key, d.Sha256)), resumed.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        Assert.Equal(reference.Manifest.Accounting.Stages.Select(a => (a.Stage, a.In, a.Kept)), resumed.Manifest.Accounting.Stages.Select(a => (a.Stage, a.In, a.Kept)));
        // Neither run wrote the read stage's own shards or normalize's: the read pass wrote quality_filter's directly.
        Assert.DoesNotContain(Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories),
            f => Path.GetFileName(Path.GetDirectoryName(f)) is "00-read" or "01-normalize" && !f.EndsWith("drops.parquet", StringComparison.Ordinal)
                 && !f.EndsWith("quarantine.parquet", StringComparison.Ordinal));
    }

    /// <summary>Fails the data-store writes <paramref name="kills"/> picks with an <see cref="IOException"/>, before or after applying them.</summary>
    private sealed class KillingResolver(IStoreResolver inner, Func<string, bool> kills, bool afterApplied) : IStoreResolver
    {
        public IObjectStore DataStore { get; } = new KillingStore(inner.DataStore, kills, afterApplied);

        public IObjectStore Resolve(StoreLocation location) => location.Kind == StoreKind.DataStore ? DataStore : inner.Resolve(location);

        private sealed class KillingStore(IObjectStore inner, Func<string, bool> kills, bool afterApplied) : IObjectStore
        {
            public string Location => inner.Location;
            public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);
            public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
            public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);
            public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

            public async Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
                CancellationToken cancellationToken = default)
            {
                if (!kills(key)) return await inner.WriteAsync(key, produce, condition, cancellationToken);
                if (afterApplied) await inner.WriteAsync(key, produce, condition, cancellationToken);
                throw new IOException($"killed at the write of {key}");
            }
        }
    }
}
