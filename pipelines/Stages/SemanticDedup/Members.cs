using System.Globalization;
using Curation.Pipelines.IO;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

// A partition's members as the score and decide phases read them back from the assign phase's pieces.
public sealed partial class SemanticDedupStage
{
    /// <summary>One document of a partition, as the score and decide phases track it (its vector lives in a spill).</summary>
    private sealed record Member(int Shard, long Row, string Id, int Cluster, float Distance, string Health, int SpillRow);

    /// <summary>
    /// Streams this partition's members from every shard's piece (shard order), spilling the vectors of those
    /// <paramref name="wanted"/> accepts to a spill <paramref name="createSpill"/> makes (on the first piece).
    /// </summary>
    private async Task<List<Member>> ReadMembersAsync(TaskContext task, int partition, Func<int, long, int, string, bool> wanted,
        Func<int, VectorSpill> createSpill, CancellationToken cancellationToken)
    {
        var members = new List<Member>();
        VectorSpill? spill = null;
        var keys = new List<string>();
        await foreach (var info in task.Job.Data.ListAsync(MembersFolder(task, partition), cancellationToken).ConfigureAwait(false)) keys.Add(info.Key);
        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var shard = int.Parse(Path.GetFileNameWithoutExtension(key), CultureInfo.InvariantCulture);
            await using var input = await task.Job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(input, cancellationToken).ConfigureAwait(false);
            var dimensions = int.Parse(reader.Metadata[EmbeddingFile.DimensionsKey], CultureInfo.InvariantCulture);
            var float16 = EmbeddingFile.IsFloat16(reader.Metadata);
            spill ??= createSpill(dimensions);
            var vector = new float[dimensions];
            await foreach (var rows in ShuffleTable.ReadAsync<MemberRow>(reader, key, cancellationToken).ConfigureAwait(false))
                foreach (var row in rows)
                {
                    var spillRow = -1;
                    if (row.Health.Length == 0 && wanted(shard, row.Row, row.Cluster, row.Id))
                    {
                        EmbeddingFile.Decode(row.Vector, vector, float16);
                        spillRow = spill.Append(vector);
                    }
                    members.Add(new Member(shard, row.Row, row.Id, row.Cluster, row.Distance, row.Health, spillRow));
                }
        }
        return members;
    }
}
