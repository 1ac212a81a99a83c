using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The k-means init sample is bounded (<c>initSampleMax</c>): a corpus over the maximum initialises from exactly the
/// documents with the smallest seeded id hashes, whatever the sharding and after a resume, and the init task holds no
/// more vectors than the maximum; the selection itself keeps the smallest keys whatever order they arrive in.
/// </summary>
public sealed class KMeansInitSampleTests : IDisposable
{
    private const int Cap = 16;
    private const int Clusters = 4;
    private readonly TempDirectory _temp = new("kmeans-init-sample");
    private readonly TestCorpus _corpus = TestCorpus.Generate(originals: 60, copies: 10, seed: 5);
    private readonly string _input;

    public KMeansInitSampleTests()
    {
        _input = _temp.Combine("corpus");
        _corpus.WriteJsonl(_input, files: 4);
    }

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(long shardBytes) => new()
    {
        Name = "init-cap",
        Inputs = [new InputSpec { Path = Path.Combine(_input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = shardBytes },
        Stages =
        [
            new EmbedStageSpec { Model = new ModelSpec { Kind = ModelKind.InputMean } },
            new D4StageSpec { KeepFraction = 0.5, Clusters = Clusters, MaxIterations = 4, InitSampleMax = Cap },
        ],
        Output = new OutputSpec { Path = "curated/init-cap" },
    };

    private IStoreResolver Stores(string folder) =>
        CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(folder) });

    /// <summary>The bytes of the d4 stage's centroids after init (iteration 0).</summary>
    private byte[] InitCentroids(string folder) =>
        File.ReadAllBytes(Assert.Single(Directory.GetFiles(_temp.Combine(folder), "000.bin", SearchOption.AllDirectories),
            f => f.Contains("-d4", StringComparison.Ordinal) && Path.GetFileName(Path.GetDirectoryName(f)) == "centroids"));

    [Fact]
    public async Task A_corpus_over_the_cap_initialises_from_the_smallest_id_hashes_whatever_the_sharding_and_after_resume()
    {
        using var services = StageServices.CreateDefault();
        var many = Stores("many");
        var manyJob = await InProcessJob.RunAsync(Spec(2048), many, services);
        Assert.True(manyJob.Plan.ShardCount > 3, $"the corpus needs several shards, not {manyJob.Plan.ShardCount}");
        var one = Stores("one");
        var oneJob = await InProcessJob.RunAsync(Spec(1 << 20), one, services);
        Assert.Equal(1, oneJob.Plan.ShardCount);
        // Interrupted after the sample phase (read, embed, sample), resumed from the stored outputs.
        var resumed = Stores("resumed");
        await InProcessJob.RunAsync(Spec(2048), resumed, services, maxPhases: 3);
        Assert.Empty(Directory.GetFiles(_temp.Combine("resumed"), "000.bin", SearchOption.AllDirectories));
        await InProcessJob.RunAsync(Spec(2048), resumed, services);

        // The init task held the maximum, not the corpus: every document was a candidate (fraction 1).
        var output = await CuratedOutput.ReadAsync(many.DataStore, "curated/init-cap");
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith("d4", StringComparison.Ordinal)).Value;
        Assert.Equal(Cap, metrics["init_sample"]);
        Assert.Equal(_corpus.Documents.Count - Cap, metrics["init_sample_capped"]);
        var oneMetrics = (await CuratedOutput.ReadAsync(one.DataStore, "curated/init-cap")).Manifest.Metrics.Single(m => m.Key.EndsWith("d4", StringComparison.Ordinal)).Value;
        Assert.Equal(Cap, oneMetrics["init_sample"]);
        Assert.Equal(_corpus.Documents.Count - Cap, oneMetrics["init_sample_capped"]);
        Assert.Empty(output.Manifest.Accounting.Imbalances());

        // One shard holding every document wrote at most the maximum into its own sample.
        var oneSample = Assert.Single(Directory.GetFiles(_temp.Combine("one"), "*.parquet", SearchOption.AllDirectories),
            f => Path.GetFileName(Path.GetDirectoryName(f)) == "sample");
        Assert.Equal(Cap, await SampleRowsAsync(oneSample));

        // The centroids k-means++ picked are those of the Cap documents with the smallest seeded id hashes.
        var embeddings = Assert.Single(Directory.GetFiles(_temp.Combine("one"), "*.embeddings.parquet", SearchOption.AllDirectories),
            f => f.Contains("-embed", StringComparison.Ordinal));
        List<string> ids;
        float[] vectors;
        int dimensions;
        await using (var file = File.OpenRead(embeddings))
            (ids, vectors, dimensions) = await EmbeddingFile.ReadAllAsync(file);
        Assert.Equal(_corpus.Documents.Count, ids.Count);
        var seed = unchecked((ulong)Spec(2048).Seed);
        var smallest = Enumerable.Range(0, ids.Count).OrderBy(i => StableRandom.KeyOf(ids[i], seed)).Take(Cap).Order().ToArray();
        var sample = smallest.SelectMany(i => vectors.AsSpan(i * dimensions, dimensions).ToArray()).ToArray();
        var expected = SphericalKMeans.InitializePlusPlus(sample, dimensions, smallest.Select(i => ids[i]).ToArray(), Clusters, seed);
        var centroids = InitCentroids("many");
        var header = sizeof(int) * 2 + sizeof(double) + sizeof(bool);
        Assert.Equal(Clusters, BitConverter.ToInt32(centroids, 0));
        Assert.Equal(expected.Values.ToArray(), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(centroids.AsSpan(header)).ToArray());

        // The same init and the same output on one shard, on many, and after the resume.
        Assert.Equal(centroids, InitCentroids("one"));
        Assert.Equal(centroids, InitCentroids("resumed"));
        var oneOutput = await CuratedOutput.ReadAsync(one.DataStore, "curated/init-cap");
        Assert.Equal(output.KeptIds.Order(StringComparer.Ordinal), oneOutput.KeptIds.Order(StringComparer.Ordinal));
        var resumedOutput = await CuratedOutput.ReadAsync(resumed.DataStore, "curated/init-cap");
        Assert.Equal(output.ShardHashes, resumedOutput.ShardHashes);
        Assert.Equal(output.Drops, resumedOutput.Drops);
    }

    [Fact]
    public async Task A_corpus_under_the_cap_keeps_its_whole_sample_and_reports_no_cap()
    {
        using var services = StageServices.CreateDefault();
        var stores = Stores("under");
        var spec = Spec(2048) with
        {
            Stages = [Spec(2048).Stages[0], new D4StageSpec { KeepFraction = 0.5, Clusters = Clusters, MaxIterations = 4 }],
        };
        await InProcessJob.RunAsync(spec, stores, services);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/init-cap");
        var metrics = output.Manifest.Metrics.Single(m => m.Key.EndsWith("d4", StringComparison.Ordinal)).Value;
        Assert.False(metrics.ContainsKey("init_sample_capped"));
        Assert.False(metrics.ContainsKey("init_sample"));
        var samples = Directory.GetFiles(_temp.Combine("under"), "*.parquet", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "sample").ToArray();
        var rows = 0L;
        foreach (var path in samples) rows += await SampleRowsAsync(path);
        Assert.Equal(_corpus.Documents.Count, rows);
    }

    /// <summary>
    /// A sample file's rows. It holds the sampled ids and their shard rows, never the vectors: init reads those from the
    /// shard's matrix, so the sample costs no second copy of the embeddings on disk.
    /// </summary>
    private static async Task<long> SampleRowsAsync(string path)
    {
        await using var file = File.OpenRead(path);
        await using var reader = await ParquetTableReader.OpenAsync(file);
        Assert.Equal(["id", "row"], reader.Schema.Select(c => c.Name));
        return reader.RowCount;
    }

    [Fact]
    public void The_cut_keeps_the_smallest_keys_whatever_order_they_are_offered_in()
    {
        var random = new Random(3);
        var candidates = Enumerable.Range(0, 1000).Select(i => (Key: (ulong)random.NextInt64(0, 50), Shard: i % 7, Row: i / 7)).ToArray();
        var expected = candidates.Order().Take(100).ToHashSet();
        foreach (var order in new[] { candidates, candidates.Reverse().ToArray(), candidates.OrderBy(_ => random.Next()).ToArray() })
        {
            var cut = new KMeansInitSample.Cut(100);
            foreach (var (key, shard, row) in order) cut.Offer(key, shard, row);
            Assert.True(cut.Capped);
            Assert.Equal(100, cut.Kept);
            Assert.Equal(1000, cut.Candidates);
            Assert.Equal(expected, candidates.Where(c => cut.Keeps(c.Key, c.Shard, c.Row)).ToHashSet());
        }
        var under = new KMeansInitSample.Cut(100);
        foreach (var (key, shard, row) in candidates.Take(100)) under.Offer(key, shard, row);
        Assert.False(under.Capped);
        Assert.All(candidates.Take(100), c => Assert.True(under.Keeps(c.Key, c.Shard, c.Row)));
    }

    [Fact]
    public void The_cut_keeps_the_ids_of_the_candidates_it_keeps()
    {
        var random = new Random(4);
        var candidates = Enumerable.Range(0, 500).Select(i => (Key: (ulong)random.NextInt64(0, 40), Shard: i % 5, Row: i / 5)).ToArray();
        var cut = new KMeansInitSample.Cut(60);
        foreach (var (key, shard, row) in candidates) cut.Offer(key, shard, row, $"id-{shard}-{row}");
        var expected = candidates.Order().Take(60).Select(c => ($"id-{c.Shard}-{c.Row}", c.Shard, c.Row)).ToHashSet();
        Assert.Equal(expected, cut.KeptCandidates().Select(c => (c.Id!, c.Shard, c.Row)).ToHashSet());
        Assert.All(cut.KeptCandidates(), c => Assert.True(cut.Keeps(candidates.Single(x => x.Shard == c.Shard && x.Row == c.Row).Key, c.Shard, c.Row)));
    }

    [Fact]
    public void A_shard_keeps_the_rows_its_fraction_picks_and_at_most_the_maximum_of_them()
    {
        var ids = Enumerable.Range(0, 500).Select(i => $"doc-{i:D4}").ToArray();
        var picked = Enumerable.Range(0, ids.Length).Where(i => SphericalKMeans.InSample(ids[i], 9, 0.5)).ToArray();
        Assert.Equal(picked, KMeansInitSample.ShardRows(ids, 9, 0.5, 500, out var count));
        Assert.Equal(picked.Length, count);
        var capped = KMeansInitSample.ShardRows(ids, 9, 0.5, 50, out count);
        Assert.Equal(picked.Length, count);
        Assert.Equal(50, capped.Length);
        Assert.Equal(picked.OrderBy(i => KMeansInitSample.KeyOf(ids[i], 9)).Take(50).Order(), capped);
    }
}
