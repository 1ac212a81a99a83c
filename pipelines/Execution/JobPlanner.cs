using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Lists a job's inputs and packs whole objects, in a stable order (input, then key), into shards of about the
/// target size. Deterministic: the same objects always give the same shards.
/// </summary>
public static class JobPlanner
{
    public static async Task<JobPlan> PlanAsync(string jobId, JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken = default)
    {
        var objects = new List<PlannedObject>();
        var errors = new List<SpecError>();
        var sources = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < spec.Inputs.Count; i++)
        {
            var input = spec.Inputs[i];
            var location = StoreLocation.Parse(input.Path);
            var store = stores.Resolve(location);
            var matched = 0;
            await foreach (var info in store.ListAsync(location.Prefix, cancellationToken).ConfigureAwait(false))
            {
                var relative = RelativeKey(location, info.Key);
                if (relative is null || !location.Matches(relative)) continue;
                matched++;
                try { InputReaders.For(input, info.Key); }
                catch (ArgumentException e) { errors.Add(new SpecError($"inputs[{i}].format", e.Message)); continue; }
                if (sources.TryGetValue(relative, out var other))
                {
                    errors.Add(new SpecError($"inputs[{i}].path", $"object '{relative}' is also matched by inputs[{other}]: sources must be unique"));
                    continue;
                }
                sources[relative] = i;
                objects.Add(new PlannedObject(i, relative, info.Key, info.Size, info.ETag));
            }
            if (matched == 0) errors.Add(new SpecError($"inputs[{i}].path", $"matched no objects in {location}"));
        }
        if (errors.Count > 0) throw new JobSpecException(errors);

        RefreshPlan? refresh = null;
        if (spec.Output.Snapshots)
            (objects, refresh) = await PlanRefreshAsync(jobId, spec, stores, objects, cancellationToken).ConfigureAwait(false);

        var shards = new List<PlannedShard>();
        var current = new List<PlannedObject>();
        long bytes = 0;
        foreach (var obj in objects)
        {
            if (current.Count > 0 && bytes + obj.Size > spec.Sharding.TargetShardBytes)
            {
                shards.Add(new PlannedShard(shards.Count, current));
                current = [];
                bytes = 0;
            }
            current.Add(obj);
            bytes += obj.Size;
        }
        if (current.Count > 0) shards.Add(new PlannedShard(shards.Count, current));
        return new JobPlan(jobId, shards) { Refresh = refresh };
    }

    /// <summary>
    /// A versioned corpus: the base is the snapshot <c>current.json</c> names now (recorded in the plan, so a resumed
    /// run keeps it); objects whose (key, ETag, size) equal the base's input table are not read again. A changed
    /// object (same key, new ETag or size) is read again in full and its documents are new documents.
    /// </summary>
    private static async Task<(List<PlannedObject> ToRead, RefreshPlan Refresh)> PlanRefreshAsync(string jobId, JobSpec spec, IStoreResolver stores,
        List<PlannedObject> listed, CancellationToken cancellationToken)
    {
        var output = StoreLocation.Parse(spec.Output.Path);
        var store = stores.Resolve(output);
        var (current, _) = await CorpusSnapshots.ReadCurrentAsync(store, output.Prefix, cancellationToken).ConfigureAwait(false);
        Manifest? baseManifest = null;
        if (current is not null)
        {
            baseManifest = await CorpusSnapshots.ReadManifestAsync(store, output.Prefix, current.Manifest, cancellationToken).ConfigureAwait(false);
            if (baseManifest?.Snapshot is null)
                throw new InvalidOperationException($"{store.Location}: current.json names {current.Manifest}, which is missing or not a snapshot manifest.");
        }
        var table = new Dictionary<string, PlannedObject>(StringComparer.Ordinal);
        foreach (var known in baseManifest?.Snapshot?.Inputs ?? []) table[known.Key] = known;

        var toRead = new List<PlannedObject>();
        int skipped = 0, changed = 0;
        foreach (var obj in listed)
        {
            if (table.TryGetValue(obj.Key, out var known))
            {
                if (known.ETag == obj.ETag && known.Size == obj.Size) { skipped++; continue; }
                changed++;
            }
            toRead.Add(obj);
            table[obj.Key] = obj;
        }
        var number = (current?.Snapshot ?? 0) + 1;
        return (toRead, new RefreshPlan
        {
            Snapshot = number, Folder = CorpusSnapshots.Folder(number, jobId), BaseSnapshot = current?.Snapshot, BaseManifest = current?.Manifest,
            Inputs = table.Values.OrderBy(o => o.Key, StringComparer.Ordinal).ToArray(), SkippedObjects = skipped, ChangedObjects = changed,
        });
    }

    /// <summary>
    /// The key relative to the location's prefix; a prefix without a glob names one object or a folder, never a
    /// partial name (<c>a.jsonl</c> must not match <c>a.jsonl.gz</c>).
    /// </summary>
    private static string? RelativeKey(StoreLocation location, string key)
    {
        if (location.Glob is not null || location.Prefix.Length == 0 || location.Prefix.EndsWith('/')) return key[location.Prefix.Length..];
        if (key == location.Prefix) return key[(key.LastIndexOf('/') + 1)..];
        return key.StartsWith(location.Prefix + "/", StringComparison.Ordinal) ? key[(location.Prefix.Length + 1)..] : null;
    }
}
