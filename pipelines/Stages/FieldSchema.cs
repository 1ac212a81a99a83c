using System.Collections.Concurrent;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The passthrough columns of a job (<see cref="InputFields"/>), fixed once per job from a bounded sample: for each
/// input, its first <see cref="SampleDocuments"/> documents, taken from its objects in ordinal order of the source key
/// (empty objects skipped, at most <see cref="SampleObjects"/> read) and, for a Parquet object, the column types of its
/// footer. Every read task of the job computes the same columns from the same sample, whatever the shard sizes, so the
/// schema never depends on sharding or splitting; a silo computes them once per job.
/// </summary>
internal static class FieldSchema
{
    public const int SampleDocuments = 1000;

    /// <summary>At most this many objects of an input are read for its sample (empty ones are skipped unread).</summary>
    public const int SampleObjects = 32;

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
            // An object split into parts is one object here; read whole, from its start.
            var candidates = objects.Where(o => o.Input == input).DistinctBy(o => o.Source).OrderBy(o => o.Source, StringComparer.Ordinal).ToArray();
            if (candidates.Length == 0) continue;
            var spec = job.Spec.Inputs[input];
            // Plain text has no fields: an input of text objects only adds no columns.
            if (candidates.All(o => InputReaders.For(spec, o.Key) is TextInputReader)) continue;
            keepsAny = true;
            var documents = 0;
            var read = 0;
            foreach (var candidate in candidates)
            {
                // The first objects in key order until the sample is full: an empty first object (a Spark or Hadoop job's
                // empty part file) or one whose records are all quarantined gave no fields, and every column of the
                // input went into metadata.
                if (documents == SampleDocuments || read == SampleObjects) break;
                if (candidate.Size == 0) continue;
                read++;
                documents += await SampleAsync(job, candidate, sample, sampled, SampleDocuments - documents, cancellationToken).ConfigureAwait(false);
            }
        }
        return InputFields.Schema(sample, keepsAny, StageColumns(job));
    }

    /// <summary>
    /// Adds the fields of <paramref name="planned"/>'s first <paramref name="limit"/> documents (and a Parquet footer's
    /// column types) to the sample; returns the documents read. An object already sampled with the same reading options
    /// (two inputs naming it the same way) adds nothing again.
    /// </summary>
    private static async Task<int> SampleAsync(JobContext job, PlannedObject planned, List<FieldValue> sample, HashSet<string> sampled, int limit,
        CancellationToken cancellationToken)
    {
        var (store, spec) = await ReadStage.OpenCheckedAsync(job, planned, cancellationToken).ConfigureAwait(false);
        var reader = InputReaders.For(spec, planned.Key);
        if (!sampled.Add($"{store.Location}\n{planned.Key}\n{System.Text.Json.JsonSerializer.Serialize(spec with { Path = "" }, CurationJson.Options)}")) return 0;
        if (reader is ParquetInputReader)
        {
            try
            {
                await using var footer = await store.OpenReadAsync(planned.Key, cancellationToken).ConfigureAwait(false);
                sample.AddRange(await ParquetInputReader.TypeHintsAsync(footer, spec, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Not a Parquet file: its read quarantines it as a corrupt object; the sample has no hints from it.
            }
        }
        var documents = 0;
        await using var content = await store.OpenReadAsync(planned.Key, cancellationToken).ConfigureAwait(false);
        await foreach (var record in reader.ReadAsync(content, new InputObject(planned.Source, planned.Size, spec), cancellationToken).ConfigureAwait(false))
        {
            if (record.IsQuarantined) continue;
            if (record.Fields is not null) sample.AddRange(record.Fields);
            if (++documents == limit) break;
        }
        return documents;
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
