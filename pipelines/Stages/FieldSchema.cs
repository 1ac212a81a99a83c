using System.Collections.Concurrent;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The passthrough columns of a job (<see cref="InputFields"/>), fixed once per job from a bounded sample: for each
/// input, the first <see cref="SampleDocuments"/> documents of its first object (ordinal order of the source key) and,
/// for a Parquet object, the column types of its footer. Every read task of the job computes the same columns from the
/// same sample, whatever the shard sizes, so the schema never depends on sharding or splitting; a silo computes them
/// once per job.
/// </summary>
internal static class FieldSchema
{
    public const int SampleDocuments = 1000;

    private static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<ColumnSchema>>>> Cache = new(StringComparer.Ordinal);

    public static Task<IReadOnlyList<ColumnSchema>> ForJobAsync(JobContext job, CancellationToken cancellationToken)
    {
        if (Cache.Count > 64) Cache.Clear();
        var key = $"{job.JobId}\n{job.Plan.Refresh?.Folder}";
        var entry = Cache.GetOrAdd(key, _ => new Lazy<Task<IReadOnlyList<ColumnSchema>>>(() => InferAsync(job, CancellationToken.None)));
        var task = entry.Value;
        if (task.IsFaulted || task.IsCanceled) Cache.TryRemove(new(key, entry));
        return task.WaitAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<ColumnSchema>> InferAsync(JobContext job, CancellationToken cancellationToken)
    {
        var keepsAny = false;
        var sample = new List<FieldValue>();
        var sampled = new HashSet<string>(StringComparer.Ordinal);   // inputs naming the same object the same way are read once
        var objects = job.Plan.Shards.SelectMany(s => s.Objects).ToArray();
        for (var input = 0; input < job.Spec.Inputs.Count; input++)
        {
            if (!InputFields.KeepsAny(job.Spec.Inputs[input])) continue;
            var first = objects.Where(o => o.Input == input).OrderBy(o => o.Source, StringComparer.Ordinal).FirstOrDefault();
            if (first is null) continue;
            var (store, spec) = await ReadStage.OpenCheckedAsync(job, first, cancellationToken).ConfigureAwait(false);
            var reader = InputReaders.For(spec, first.Key);
            if (!sampled.Add($"{store.Location}\n{first.Key}\n{System.Text.Json.JsonSerializer.Serialize(spec with { Path = "" }, CurationJson.Options)}")) continue;
            // Plain text has no fields: an input of text objects only adds no columns.
            if (objects.Where(o => o.Input == input).All(o => InputReaders.For(spec, o.Key) is TextInputReader)) continue;
            keepsAny = true;
            if (reader is ParquetInputReader)
            {
                try
                {
                    await using var footer = await store.OpenReadAsync(first.Key, cancellationToken).ConfigureAwait(false);
                    sample.AddRange(await ParquetInputReader.TypeHintsAsync(footer, spec, cancellationToken).ConfigureAwait(false));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Not a Parquet file: its read quarantines it as a corrupt object; the sample has no hints from it.
                }
            }
            var documents = 0;
            await using var content = await store.OpenReadAsync(first.Key, cancellationToken).ConfigureAwait(false);
            await foreach (var record in reader.ReadAsync(content, new InputObject(first.Source, first.Size, spec), cancellationToken).ConfigureAwait(false))
            {
                if (record.IsQuarantined) continue;
                if (record.Fields is not null) sample.AddRange(record.Fields);
                if (++documents == SampleDocuments) break;
            }
        }
        return InputFields.Schema(sample, keepsAny, StageColumns(job));
    }

    /// <summary>Columns the job's stages add: an input field of such a name stays in <c>metadata</c>.</summary>
    private static HashSet<string> StageColumns(JobContext job)
    {
        var names = new HashSet<string>(StringComparer.Ordinal)
        {
            TokenizeStage.TokenCountColumn, EmbedStage.WindowsColumn, ExactDedupStage.HashColumn, TrainTokenizeStage.TokensColumn,
            SemanticDedupStage.ClusterColumn, SemanticDedupStage.MaxSimilarityColumn, SemanticDedupStage.HealthColumn,
            D4Stage.ClusterColumn, D4Stage.DistanceColumn, QualityScore.QualityScoreStage.ScoreColumn, UrlDedupKey.NormalizedUrlColumn,
        };
        foreach (var stage in job.Stages.OfType<DocumentStage>())
            foreach (var column in stage.Transform.AddedColumns) names.Add(column.Name);
        return names;
    }
}
