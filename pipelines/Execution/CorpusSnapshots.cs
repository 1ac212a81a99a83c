using System.Globalization;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>The pointer of a versioned corpus (<c>{path}/current.json</c>): which snapshot readers should read.</summary>
public sealed record CurrentSnapshot(int Snapshot, string Manifest, string JobId);

/// <summary>One snapshot of a versioned corpus, as <see cref="CorpusSnapshots.ListAsync(IObjectStore, string, CancellationToken)"/> lists it.</summary>
public sealed record SnapshotSummary(int Snapshot, string Manifest, string JobId, long Documents, long NewDocuments, int? Previous, bool IsCurrent);

/// <summary>
/// A versioned corpus (<c>output.snapshots: true</c>) in its store: <c>snapshots/{NNNNNN}-{job}/</c> folders, each with
/// its own new shards, drops, quarantine, embeddings, dedup indexes and a manifest that also lists the carried-over
/// shards of earlier snapshots; and <c>current.json</c>, moved with a conditional write only after the snapshot's
/// manifest exists, so a reader following it never sees a half-made snapshot.
/// </summary>
public static class CorpusSnapshots
{
    public const string CurrentFile = "current.json";
    public const string SnapshotsFolder = "snapshots";

    /// <summary>The folder of snapshot <paramref name="number"/> written by <paramref name="jobId"/> (its hash keeps concurrent or abandoned attempts apart).</summary>
    public static string Folder(int number, string jobId) =>
        $"{SnapshotsFolder}/{number.ToString("D6", CultureInfo.InvariantCulture)}-{jobId[(jobId.LastIndexOf('-') + 1)..]}";

    private static string Key(string corpusPrefix, string relative) =>
        corpusPrefix.Length == 0 ? relative : corpusPrefix.TrimEnd('/') + "/" + relative;

    public static Task<(CurrentSnapshot? Value, ObjectInfo? Info)> ReadCurrentAsync(IObjectStore store, string corpusPrefix,
        CancellationToken cancellationToken = default) =>
        store.TryReadJsonAsync<CurrentSnapshot>(Key(corpusPrefix, CurrentFile), cancellationToken: cancellationToken);

    /// <summary>A snapshot's manifest (key relative to the corpus root), or null when it is gone (retention).</summary>
    public static async Task<Manifest?> ReadManifestAsync(IObjectStore store, string corpusPrefix, string manifestKey,
        CancellationToken cancellationToken = default) =>
        (await store.TryReadJsonAsync<Manifest>(Key(corpusPrefix, manifestKey), cancellationToken: cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>The current snapshot's manifest, or null when the corpus has none yet.</summary>
    public static async Task<Manifest?> ReadCurrentManifestAsync(IObjectStore store, string corpusPrefix, CancellationToken cancellationToken = default)
    {
        var (current, _) = await ReadCurrentAsync(store, corpusPrefix, cancellationToken).ConfigureAwait(false);
        return current is null ? null : await ReadManifestAsync(store, corpusPrefix, current.Manifest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The corpus at <paramref name="outputPath"/> (a spec's <c>output.path</c>): its snapshots, newest first.</summary>
    public static Task<IReadOnlyList<SnapshotSummary>> ListAsync(IStoreResolver stores, string outputPath, CancellationToken cancellationToken = default)
    {
        var location = StoreLocation.Parse(outputPath);
        return ListAsync(stores.Resolve(location), location.Prefix, cancellationToken);
    }

    /// <summary>
    /// The snapshots still kept, newest (current) first: the chain from <c>current.json</c> back through each
    /// manifest's previous snapshot, as far as manifests exist (retention deletes the older ones).
    /// </summary>
    public static async Task<IReadOnlyList<SnapshotSummary>> ListAsync(IObjectStore store, string corpusPrefix, CancellationToken cancellationToken = default)
    {
        var result = new List<SnapshotSummary>();
        var (current, _) = await ReadCurrentAsync(store, corpusPrefix, cancellationToken).ConfigureAwait(false);
        var manifestKey = current?.Manifest;
        while (manifestKey is not null)
        {
            var manifest = await ReadManifestAsync(store, corpusPrefix, manifestKey, cancellationToken).ConfigureAwait(false);
            if (manifest?.Snapshot is not { } snapshot) break;
            result.Add(new SnapshotSummary(snapshot.Number, manifestKey, manifest.JobId, snapshot.Documents, snapshot.NewDocuments, snapshot.Previous,
                result.Count == 0));
            manifestKey = snapshot.PreviousManifest;
        }
        return result;
    }

    /// <summary>
    /// Moves <c>current.json</c> from <paramref name="expectedBase"/> (null: no snapshot yet, a create-only write) to
    /// <paramref name="target"/> with an ETag-conditional write. Idempotent: a pointer already at the target is
    /// success. A pointer that moved elsewhere (another refresh of the same corpus won) fails the job instead of
    /// hiding that snapshot.
    /// </summary>
    public static async Task MoveCurrentAsync(IObjectStore store, string corpusPrefix, CurrentSnapshot target, int? expectedBase,
        CancellationToken cancellationToken = default)
    {
        var key = Key(corpusPrefix, CurrentFile);
        var (current, info) = await ReadCurrentAsync(store, corpusPrefix, cancellationToken).ConfigureAwait(false);
        if (current is not null && current.Manifest == target.Manifest) return;
        if (current?.Snapshot != expectedBase)
            throw new InvalidOperationException(
                $"{store.Location}/{key} points at snapshot {current?.Snapshot.ToString(CultureInfo.InvariantCulture) ?? "none"}, not at the base " +
                $"{expectedBase?.ToString(CultureInfo.InvariantCulture) ?? "none"} that job {target.JobId} refreshed: another refresh of this corpus " +
                "finished first. Run the refresh again with a new runKey to refresh the new snapshot.");
        try
        {
            await store.WriteJsonAsync(key, target, info is null ? WriteCondition.CreateOnly : WriteCondition.IfMatch(info.ETag),
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectAlreadyExistsException or ObjectModifiedException)
        {
            // Lost a race: fine when the winner was this job's own earlier attempt, an error otherwise.
            var (now, _) = await ReadCurrentAsync(store, corpusPrefix, cancellationToken).ConfigureAwait(false);
            if (now?.Manifest != target.Manifest)
                throw new InvalidOperationException($"{store.Location}/{key} was moved to snapshot {now?.Snapshot} by job {now?.JobId} while job {target.JobId} published.", e);
        }
    }

    /// <summary>
    /// Keeps the newest <paramref name="keep"/> snapshots of the chain and deletes the older snapshots' own objects
    /// (shards, drops, quarantine, embeddings, indexes, manifest) except those a kept snapshot still references:
    /// carried-over shards and carried index partitions stay. Returns the number of objects deleted. Safe to repeat.
    /// </summary>
    public static async Task<int> ApplyRetentionAsync(IObjectStore store, string corpusPrefix, int keep, CancellationToken cancellationToken = default)
    {
        var (current, _) = await ReadCurrentAsync(store, corpusPrefix, cancellationToken).ConfigureAwait(false);
        var chain = new List<(string ManifestKey, Manifest Manifest)>();
        for (var manifestKey = current?.Manifest; manifestKey is not null;)
        {
            var manifest = await ReadManifestAsync(store, corpusPrefix, manifestKey, cancellationToken).ConfigureAwait(false);
            if (manifest?.Snapshot is null) break;
            chain.Add((manifestKey, manifest));
            manifestKey = manifest.Snapshot.PreviousManifest;
        }
        if (chain.Count <= keep) return 0;

        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (manifestKey, manifest) in chain.Take(keep))
        {
            referenced.Add(manifestKey);
            referenced.UnionWith(ObjectsOf(manifest, includeCarried: true));
        }
        var deleted = 0;
        // Oldest first, manifest last: an interrupted retention leaves each dropped snapshot listable until its objects are gone.
        foreach (var (manifestKey, manifest) in chain.Skip(keep).Reverse())
        {
            foreach (var key in ObjectsOf(manifest, includeCarried: false).Where(k => !referenced.Contains(k)).Distinct(StringComparer.Ordinal))
                if (await store.DeleteAsync(Key(corpusPrefix, key), cancellationToken).ConfigureAwait(false)) deleted++;
        }
        foreach (var (manifestKey, _) in chain.Skip(keep))
            if (await store.DeleteAsync(Key(corpusPrefix, manifestKey), cancellationToken).ConfigureAwait(false)) deleted++;
        return deleted;
    }

    /// <summary>The objects a snapshot's manifest names: its own (and with <paramref name="includeCarried"/>, those it references in earlier snapshots).</summary>
    private static IEnumerable<string> ObjectsOf(Manifest manifest, bool includeCarried)
    {
        var own = manifest.Shards.Concat(manifest.Drops).Concat(manifest.Quarantine).Concat(manifest.Embeddings).Select(o => o.Key);
        var indexes = manifest.Snapshot!.Indexes.Select(i => i.Key);
        if (!includeCarried) indexes = indexes.Where(k => k.StartsWith(manifest.Snapshot.Folder + "/", StringComparison.Ordinal));
        var all = own.Concat(indexes);
        return includeCarried
            ? all.Concat(manifest.Snapshot.CarriedShards.Select(o => o.Key)).Concat(manifest.Snapshot.CarriedEmbeddings.Select(o => o.Key))
            : all;
    }
}
