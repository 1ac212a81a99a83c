using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Parquet;

namespace Curation.Pipelines.Tests.Execution;

/// <summary>
/// A job's intermediate shards and drops use <see cref="ShardingSpec.IntermediateCompression"/> (uncompressed by default on a
/// local folder); what the output publishes, and the shard it copies byte for byte, stays Snappy: the curated output, its
/// drops and quarantine are the same bytes whichever codec the job used in between.
/// </summary>
public sealed class ShardCompressionTests : IDisposable
{
    private readonly TempDirectory _temp = new("shard-compression");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Auto_writes_uncompressed_on_a_local_folder_and_snappy_on_a_remote_store()
    {
        Assert.Equal(CompressionMethod.None, ShardCompression.Resolve(IntermediateCompression.Auto, "file:///data"));
        Assert.Equal(CompressionMethod.Snappy, ShardCompression.Resolve(IntermediateCompression.Auto, "https://account.blob.core.windows.net/curation"));
        Assert.Equal(CompressionMethod.Snappy, ShardCompression.Resolve(IntermediateCompression.Snappy, "file:///data"));
        Assert.Equal(CompressionMethod.None, ShardCompression.Resolve(IntermediateCompression.None, "https://account.blob.core.windows.net/curation"));
    }

    [Fact]
    public void Auto_is_left_out_of_the_spec_json_so_job_ids_stay_as_they_were()
    {
        var spec = new JobSpec
        {
            Name = "ids",
            Inputs = [new InputSpec { Path = "/in/*.jsonl" }],
            Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/ids" },
        };
        Assert.DoesNotContain("intermediateCompression", spec.ToJson(), StringComparison.Ordinal);
        var none = spec with { Sharding = new ShardingSpec { IntermediateCompression = IntermediateCompression.None } };
        Assert.Contains("\"intermediateCompression\": \"none\"", none.ToJson(), StringComparison.Ordinal);
        Assert.NotEqual(JobContext.JobIdOf(spec), JobContext.JobIdOf(none));
    }

    /// <summary>
    /// Two chains: one whose last stage defers its decisions to the output (the output writes its rows itself), one whose last
    /// stage writes a shard the output copies as it is. Each runs with intermediate files uncompressed and with Snappy.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_output_is_the_same_bytes_whichever_intermediate_codec_the_job_used(bool lastStageDefers)
    {
        var input = _temp.Combine("corpus");
        if (!Directory.Exists(input))
        {
            Directory.CreateDirectory(input);
            var corpus = new BigObjectCorpus(seed: 29);
            for (var i = 0; i < 3; i++) await File.WriteAllBytesAsync(Path.Combine(input, $"docs-{i}.jsonl"), corpus.Jsonl(60_000));
            // A malformed line: the quarantine is published too.
            await File.AppendAllTextAsync(Path.Combine(input, "docs-0.jsonl"), "{\"id\": \"broken\", \"text\": \n");
        }
        IReadOnlyList<StageSpec> stages = lastStageDefers
            ? [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 200, MinWords = 30 }, new ExactDedupStageSpec()]
            : [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 200, MinWords = 30 }];

        async Task<(CuratedOutput Output, JobContext Job)> RunAsync(IntermediateCompression codec)
        {
            var root = _temp.Combine($"{lastStageDefers}-{codec}");
            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
            var spec = new JobSpec
            {
                Name = "codec",
                Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl") }],
                Sharding = new ShardingSpec { TargetShardBytes = 64 * 1024, IntermediateCompression = codec },
                Stages = stages,
                Output = new OutputSpec { Path = "curated/codec" },
            };
            using var services = StageServices.CreateDefault();
            var job = await InProcessJob.RunAsync(spec, stores, services);
            return (await CuratedOutput.ReadAsync(stores.DataStore, spec.Output.Path), job);
        }

        var (plain, plainJob) = await RunAsync(IntermediateCompression.None);
        var (snappy, snappyJob) = await RunAsync(IntermediateCompression.Snappy);

        Assert.True(plain.Manifest.Shards.Count > 1);
        Assert.Equal(snappy.ShardHashes, plain.ShardHashes);
        Assert.Equal(snappy.Manifest.Shards.Select(s => (s.Key, s.Rows, s.Bytes, s.Sha256)), plain.Manifest.Shards.Select(s => (s.Key, s.Rows, s.Bytes, s.Sha256)));
        Assert.Equal(snappy.Manifest.Drops.Select(d => (d.Key, d.Sha256)), plain.Manifest.Drops.Select(d => (d.Key, d.Sha256)));
        Assert.Equal(snappy.Manifest.Quarantine.Select(q => (q.Key, q.Sha256)), plain.Manifest.Quarantine.Select(q => (q.Key, q.Sha256)));
        Assert.NotEmpty(plain.Quarantine);
        Assert.Equal(snappy.KeptIds, plain.KeptIds);
        Assert.Equal(snappy.Drops, plain.Drops);

        // The files in between: the fused pass writes quality_filter's shards (index 2) and its drops.
        static Task<CompressionMethod> ShardsOfQuality(JobContext job) => CodecOfAllAsync(job, s => job.Layout.ShardData(2, job.Stages[2].Name, s));
        static Task<CompressionMethod> DropsOfQuality(JobContext job) => CodecOfAllAsync(job, s => job.Layout.ShardDrops(2, job.Stages[2].Name, s));
        // The last stage before the output writes shards the output copies byte for byte: Snappy either way.
        Assert.Equal(lastStageDefers ? CompressionMethod.None : CompressionMethod.Snappy, await ShardsOfQuality(plainJob));
        Assert.Equal(CompressionMethod.None, await DropsOfQuality(plainJob));
        Assert.Equal(CompressionMethod.Snappy, await ShardsOfQuality(snappyJob));
        Assert.Equal(CompressionMethod.Snappy, await DropsOfQuality(snappyJob));
        // The read stage's quarantine files are published byte for byte: always Snappy.
        Assert.Equal(CompressionMethod.Snappy, await CodecOfAllAsync(plainJob, s => plainJob.Layout.ShardQuarantine(0, ReadStage.StageName, s)));
    }

    /// <summary>The one codec of the files <paramref name="keyOf"/> names for the job's shards (those holding rows; at least one does).</summary>
    private static async Task<CompressionMethod> CodecOfAllAsync(JobContext job, Func<int, string> keyOf)
    {
        var codecs = new HashSet<CompressionMethod>();
        for (var shard = 0; shard < job.Plan.ShardCount; shard++)
            if (await CodecOfAsync(job, keyOf(shard)) is { } codec) codecs.Add(codec);
        return Assert.Single(codecs);
    }

    /// <summary>The codec of every column chunk of the stored file <paramref name="key"/> (asserted to be one); null when it holds no rows.</summary>
    private static async Task<CompressionMethod?> CodecOfAsync(JobContext job, string key)
    {
        await using var stream = await job.Data.OpenReadAsync(key);
        await using var reader = await ParquetReader.CreateAsync(stream);
        var codecs = reader.Metadata!.RowGroups.SelectMany(g => g.Columns).Select(c => c.MetaData!.Codec).Distinct().ToList();
        if (codecs.Count == 0) return null;
        Assert.Single(codecs);
        return codecs[0] switch
        {
            Parquet.Meta.CompressionCodec.UNCOMPRESSED => CompressionMethod.None,
            Parquet.Meta.CompressionCodec.SNAPPY => CompressionMethod.Snappy,
            var other => throw new InvalidOperationException($"{key}: unexpected codec {other}"),
        };
    }
}
