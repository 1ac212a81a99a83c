using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>One link of a document's lineage: its fate in the output (or in an earlier snapshot) and, when kept, its text.</summary>
public sealed record LineageStep(IdIndexEntry Entry, string? Text, int? Snapshot);

/// <summary>
/// "Why was this document removed, and what is it a copy of?": follows a document through the output's id index to
/// the kept document that survives (an exact copy of a near duplicate of … ), across earlier snapshots of a versioned
/// corpus. Each step reads one index bucket; the kept end reads its shard. Unknown ids and broken chains end the list.
/// </summary>
public static class DocumentLineage
{
    public const int MaxSteps = 16;

    /// <param name="droppedText">Reads a dropped document's text (it is not in the output) given the job that dropped it; may return null.</param>
    public static async Task<IReadOnlyList<LineageStep>> FollowAsync(IObjectStore output, StoreLocation location, Manifest manifest, string id,
        Func<IdIndexEntry, string, CancellationToken, Task<string?>>? droppedText = null, CancellationToken cancellationToken = default)
    {
        var steps = new List<LineageStep>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var current = id;
        while (steps.Count < MaxSteps && seen.Add(current))
        {
            var found = await FindAsync(output, location, manifest, current, cancellationToken).ConfigureAwait(false);
            if (found is not { } hit) break;
            var (entry, snapshot, jobId) = hit;
            if (entry.Kept)
            {
                var document = await IdIndex.ReadDocumentAsync(output, location, entry.Shard!, entry.Id, cancellationToken).ConfigureAwait(false);
                steps.Add(new LineageStep(entry, document?.Text, snapshot));
                break;
            }
            var text = droppedText is null ? null : await droppedText(entry, jobId, cancellationToken).ConfigureAwait(false);
            steps.Add(new LineageStep(entry, text, snapshot));
            if (entry.Twin is null) break;
            current = entry.Twin;
        }
        return steps;
    }

    /// <summary>The id's entry in this manifest's index, else in its earlier snapshots' (newest first).</summary>
    public static async Task<(IdIndexEntry Entry, int? Snapshot, string JobId)?> FindAsync(IObjectStore output, StoreLocation location, Manifest manifest, string id,
        CancellationToken cancellationToken = default)
    {
        for (var m = manifest; m is not null;)
        {
            if (m.IdIndex is { } index && await IdIndex.LookupAsync(output, location, index, id, cancellationToken).ConfigureAwait(false) is { } entry)
                return (entry, m.Snapshot?.Number, m.JobId);
            m = m.Snapshot?.PreviousManifest is { } previous
                ? await CorpusSnapshots.ReadManifestAsync(output, location.Prefix, previous, cancellationToken).ConfigureAwait(false)
                : null;
        }
        return null;
    }

    /// <summary>
    /// A dropped document's text, from the job's own copy of the shard the dropping stage read (the output holds no
    /// dropped text); null when the job's working objects are gone.
    /// </summary>
    public static async Task<string?> DroppedTextAsync(IStoreResolver stores, string jobId, IdIndexEntry entry, CancellationToken cancellationToken = default) =>
        await TryLoadJobAsync(stores, jobId, cancellationToken).ConfigureAwait(false) is { } job
            ? await DroppedTextAsync(job, entry, cancellationToken).ConfigureAwait(false)
            : null;

    /// <summary>As above, with the job's context loaded once by the caller (a page of drops of one job).</summary>
    public static async Task<string?> DroppedTextAsync(JobContext job, IdIndexEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.ShardNumber is not { } shard) return null;
        var stage = job.Stages.Select((s, i) => (s, i)).FirstOrDefault(x => x.s.Name == entry.Stage);
        if (stage.s is null || stage.i == 0) return null;
        var previous = job.Stages[stage.i - 1];
        var key = job.Layout.ShardData(previous.Index, previous.Name, shard);
        Stream content;
        try
        {
            content = await job.Data.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            return null; // one request: opening says whether the shard is still there
        }
        await using (content)
            return (await JsonlShardFile.FindDocumentAsync(content, key, entry.Id, cancellationToken).ConfigureAwait(false))?.Text;
    }

    /// <summary>A job's context (spec, plan, stages), or null once its working objects are gone.</summary>
    public static async Task<JobContext?> TryLoadJobAsync(IStoreResolver stores, string jobId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await JobContext.LoadAsync(jobId, stores, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// What decided a drop against its twin, when it can be recomputed from the two texts: a near duplicate's Jaccard (the
    /// MinHash estimate its stage compared, and the exact value). Exact copies and semantic twins say so in their detail.
    /// </summary>
    public static NearDup.PairSimilarity.Result? SimilarityToTwin(JobSpec? spec, LineageStep step, LineageStep? twin)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (step.Entry.Kept || twin?.Text is null || step.Text is null || spec is null) return null;
        return spec.Stages.OfType<NearDedupStageSpec>().FirstOrDefault() is { } near && step.Entry.Stage == NearDedupStageSpec.TypeName
            ? NearDup.PairSimilarity.Of(near, spec.Seed, step.Text, twin.Text)
            : null;
    }

    /// <summary>
    /// A page of the output's drops in file order (stage and reason filters optional), after a cursor
    /// <c>file:row</c> from the previous page; the next cursor is null at the end.
    /// </summary>
    public static async Task<(IReadOnlyList<IdIndexEntry> Drops, string? Next)> DropsPageAsync(IObjectStore output, StoreLocation location, Manifest manifest,
        string? stage, string? reason, int limit, string? after, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var (startFile, startRow) = (0, 0L);
        if (after is not null)
        {
            if (!TryParseCursor(after, manifest.Drops.Count, out var file, out var last)) throw new ArgumentException(CursorError(after), nameof(after));
            (startFile, startRow) = (file, last + 1);
        }
        var page = new List<IdIndexEntry>();
        for (var fileIndex = startFile; fileIndex < manifest.Drops.Count; fileIndex++)
        {
            var bytes = await output.ReadBytesAsync(location.KeyOf(manifest.Drops[fileIndex].Key), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(bytes), cancellationToken).ConfigureAwait(false);
            long row = 0;
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                foreach (var entry in IdIndex.DropEntries(batch, manifest.Drops[fileIndex].Key))
                {
                    var rowIndex = row++;
                    if (fileIndex == startFile && rowIndex < startRow) continue;
                    if (stage is not null && entry.Stage != stage || reason is not null && entry.Reason != reason) continue;
                    page.Add(entry);
                    if (page.Count == limit) return (page, $"{fileIndex}:{rowIndex}");
                }
        }
        return (page, null);
    }

    /// <summary>Why a cursor is refused, in the API's words.</summary>
    public static string CursorError(string cursor) =>
        $"after: '{cursor}' is not a cursor of this output's drops (pass the 'next' of the previous page, or leave it out to start)";

    /// <summary>A cursor of <see cref="DropsPageAsync"/>: <c>file:row</c>, both whole numbers ≥ 0, the file one of the output's drops files.</summary>
    public static bool TryParseCursor(string cursor, int dropFiles, out int file, out long row)
    {
        (file, row) = (0, 0);
        return cursor.Split(':') is [var f, var r]
            && int.TryParse(f, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out file)
            && long.TryParse(r, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out row)
            && file < dropFiles;
    }
}
