using Curation.Pipelines.Spec;
using Parquet;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Which codec a Parquet file of a job is written with. What the output publishes, and a shard it copies into the output
/// byte for byte (the shard of the last stage before it), is Snappy; every other file the job writes only to read back
/// itself uses <see cref="ShardingSpec.IntermediateCompression"/>. Readers take any codec (it is per column chunk), so a
/// job resumed under another setting still reads what an earlier attempt wrote, and the output's bytes never depend on it.
/// </summary>
public static class ShardCompression
{
    /// <summary>The codec of the curated output.</summary>
    public const CompressionMethod Published = CompressionMethod.Snappy;

    /// <summary>The codec of <paramref name="job"/>'s intermediate files.</summary>
    public static CompressionMethod Intermediate(JobContext job) => Resolve(job.Spec.Sharding.IntermediateCompression, job.Data.Location);

    /// <summary><c>auto</c>: none on a local-folder data store (a <c>file:</c> location), Snappy on a remote one.</summary>
    public static CompressionMethod Resolve(IntermediateCompression setting, string dataLocation) => setting switch
    {
        IntermediateCompression.None => CompressionMethod.None,
        IntermediateCompression.Snappy => CompressionMethod.Snappy,
        _ => dataLocation.StartsWith("file:", StringComparison.Ordinal) ? CompressionMethod.None : CompressionMethod.Snappy,
    };

    /// <summary>
    /// The codec of the shard written for the stage at <paramref name="stageIndex"/>: <see cref="Published"/> for the last
    /// stage before the output (the output copies that shard as it is, or writes its own rows through the same writer),
    /// <see cref="Intermediate"/> for the others.
    /// </summary>
    public static CompressionMethod OfShard(JobContext job, int stageIndex) => stageIndex >= job.Stages.Count - 2 ? Published : Intermediate(job);
}
