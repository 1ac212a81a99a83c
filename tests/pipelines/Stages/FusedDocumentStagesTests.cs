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
        var before = FusedDocumentPass.Enabled;
        FusedDocumentPass.Enabled = fuse;
        try
        {
            await InProcessJob.RunAsync(spec, stores, services);
        }
        finally
        {
            FusedDocumentPass.Enabled = before;
        }
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

        // One read and one write: normalize's own shard data exists only in the unfused run.
        static int NormalizeShards(string root) => Directory.EnumerateFiles(root, "*.parquet", SearchOption.AllDirectories)
            .Count(f => Path.GetFileName(Path.GetDirectoryName(f))!.EndsWith("-normalize", StringComparison.Ordinal) && !f.EndsWith(".drops.parquet", StringComparison.Ordinal));
        Assert.True(NormalizeShards(unfusedRoot) > 0);
        Assert.Equal(0, NormalizeShards(fusedRoot));
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
}
