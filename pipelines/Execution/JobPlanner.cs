using System.Globalization;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// Lists a job's inputs, cuts objects larger than the target into parts (<see cref="ObjectSplitter"/>) and packs
/// objects and parts, in a stable order (input, then key, then part), into shards of about the target size.
/// Deterministic: the same objects always give the same shards.
/// </summary>
public static class JobPlanner
{
    public static async Task<JobPlan> PlanAsync(string jobId, JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken = default)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture; // the plan and its errors are the same on every silo (see JobExecutor)
        var (objects, errors) = await ListInputsAsync(spec, stores, cancellationToken).ConfigureAwait(false);
        if (await OutputOwnerErrorAsync(jobId, spec, stores, cancellationToken).ConfigureAwait(false) is { } taken) errors.Add(taken);
        errors.AddRange(await StageFileErrorsAsync(spec, stores, cancellationToken).ConfigureAwait(false));
        if (errors.Count > 0) throw new JobSpecException(errors);

        RefreshPlan? refresh = null;
        if (spec.Output.Snapshots)
            (objects, refresh) = await PlanRefreshAsync(jobId, spec, stores, objects, cancellationToken).ConfigureAwait(false);

        objects = await ObjectSplitter.SplitAsync(spec, objects, stores, cancellationToken).ConfigureAwait(false);
        var shards = new List<PlannedShard>();
        var current = new List<PlannedObject>();
        long bytes = 0;
        foreach (var obj in objects)
        {
            if (current.Count > 0 && bytes + obj.ReadBytes > spec.Sharding.TargetShardBytes)
            {
                shards.Add(new PlannedShard(shards.Count, current));
                current = [];
                bytes = 0;
            }
            current.Add(obj);
            bytes += obj.ReadBytes;
        }
        if (current.Count > 0) shards.Add(new PlannedShard(shards.Count, current));
        return new JobPlan(jobId, shards) { Refresh = refresh };
    }

    /// <summary>
    /// The objects the spec's inputs name now, in input then listing order (whole objects, not yet split), and what is
    /// wrong with the inputs or the output path (an input matching nothing, an object two inputs match, an unknown format).
    /// </summary>
    public static async Task<(List<PlannedObject> Objects, List<SpecError> Errors)> ListInputsAsync(JobSpec spec, IStoreResolver stores,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var objects = new List<PlannedObject>();
        var errors = new List<SpecError>();
        var sources = new Dictionary<string, (int Input, string Key)>(StringComparer.Ordinal);
        var clashes = new Dictionary<(int Input, int Other), InputRules.SourceClash>();
        var locations = spec.Inputs.Select(input => StoreLocation.Parse(input.Path)).ToArray();
        var (outputRoot, outputFile) = await OutputRootAsync(spec, stores, cancellationToken).ConfigureAwait(false);
        var (listings, ownOutput) = await ListOnceAsync(locations, stores, outputFile is null ? outputRoot : null, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < spec.Inputs.Count; i++)
        {
            var input = spec.Inputs[i];
            var location = locations[i];
            var matched = 0;
            var (hidden, firstHidden) = (0, "");
            var (unmatched, unmatchedExamples) = (0, new List<string>(3));
            var idFieldRefused = false;
            // Objects whose format the planner cannot tell: one error, the first's reason, how many more and a few names.
            var (unreadable, unreadableReason, unreadableExamples) = (0, "", new List<string>(3));
            var skipHidden = InputRules.SkipsHiddenObjects(location);
            foreach (var info in listings[i])
            {
                var relative = RelativeKey(location, info.Key);
                if (relative is null) continue; // listed for another input (one listing serves all the inputs of a folder)
                if (!location.Matches(relative))
                {
                    if (unmatched++ < 3) unmatchedExamples.Add(relative);
                    continue;
                }
                if (skipHidden && info.Key != location.Prefix && InputRules.IsHiddenOrMarker(relative))
                {
                    if (hidden++ == 0) firstHidden = relative;
                    continue;
                }
                matched++;
                IInputReader reader;
                try { reader = InputReaders.For(input, info.Key); }
                catch (ArgumentException e)
                {
                    if (unreadable++ == 0) unreadableReason = e.Message;
                    else if (unreadableExamples.Count < 3) unreadableExamples.Add($"'{relative}'");
                    continue;
                }
                if (input.IdField is not null && reader is TextInputReader or HtmlFileReader && !idFieldRefused)
                {
                    // Was silently ignored: every document got source#position while the spec named an id field.
                    idFieldRefused = true;
                    errors.Add(new SpecError($"inputs[{i}].idField", $"'{relative}' is {(reader is HtmlFileReader ? "an HTML file" : "plain text")}, " +
                        "which has no fields to take an id from: leave idField out (its documents are numbered source#position)"));
                }
                if (sources.TryGetValue(relative, out var other))
                {
                    var sameObject = locations[other.Input].Kind == location.Kind && locations[other.Input].Root == location.Root && other.Key == info.Key;
                    if (sameObject)
                        errors.Add(new SpecError($"inputs[{i}].path", $"object '{relative}' is also matched by inputs[{other.Input}]: sources must be unique"));
                    else if (clashes.TryGetValue((i, other.Input), out var clash)) clash.Names++;
                    else clashes[(i, other.Input)] = new InputRules.SourceClash(relative, info.Key, other.Key);
                    continue;
                }
                sources[relative] = (i, info.Key);
                objects.Add(new PlannedObject(i, relative, info.Key, info.Size, info.ETag));
            }
            if (unreadable > 0)
                errors.Add(new SpecError($"inputs[{i}].format", unreadableReason + (unreadable == 1 ? "" :
                    $"; the same goes for {unreadable - 1:N0} more objects of this input, such as {string.Join(", ", unreadableExamples)}")));
            if (matched == 0)
                errors.Add(new SpecError($"inputs[{i}].path", $"matched no objects in {location}" + (ownOutput > 0
                    ? $" ({ownOutput:N0} listed objects are under output.path '{spec.OutputRoot()}': a job never reads its own output)"
                    : "") + (hidden > 0 ? $" ({hidden:N0} hidden or marker objects skipped, such as '{firstHidden}')" : "") +
                    InputRules.NearMisses(location, unmatched, unmatchedExamples, ownOutput + hidden) + InputRules.ShellSyntaxHint(input.Path)));
        }
        foreach (var ((i, other), clash) in clashes)
            errors.Add(new SpecError($"inputs[{i}].path", InputRules.SourceClashMessage(spec, locations, i, other, clash)));
        if (outputFile is not null)
            errors.Add(new SpecError("output.path",
                $"names an existing file ({outputFile}), not a folder: a job's output is a folder of shards, drops and a manifest"));
        return (objects, errors);
    }

    /// <summary>
    /// Every file a stage reads (<see cref="StageSpec.FilesRead"/>: blocklists, evaluation sets, training sets, models,
    /// tokenizers) must exist before anything runs: a missing one was a task failing four times after the stages
    /// before it had run, or an unhandled exception where the stage was built.
    /// </summary>
    private static async Task<List<SpecError>> StageFileErrorsAsync(JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken)
    {
        var errors = new List<SpecError>();
        for (var i = 0; i < spec.Stages.Count; i++)
            foreach (var file in spec.Stages[i].FilesRead())
            {
                string? problem;
                try
                {
                    problem = file.Kind == StageFileKind.File ? LocalFileProblem(file.Path) : await LocationProblemAsync(file.Path, stores, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    problem = $"'{file.Path}' cannot be read: {e.Message}";
                }
                if (problem is not null) errors.Add(new SpecError($"stages[{i}].{file.Field}", problem));
            }
        return errors;
    }

    private static string? LocalFileProblem(string path, string? local = null) =>
        File.Exists(local ?? path) ? null : Directory.Exists(local ?? path) ? $"'{path}' is a folder, not a file" : $"no such file '{path}'";

    /// <summary>A location read like an input: a local path (or <c>file://</c> URL), a data store key or <c>az://</c>.</summary>
    private static async Task<string?> LocationProblemAsync(string path, IStoreResolver stores, CancellationToken cancellationToken)
    {
        if (StoreLocation.LocalPathOf(path) is { } local && Path.IsPathRooted(local)) return LocalFileProblem(path, local);
        var location = StoreLocation.Parse(path);
        if (location.Glob is not null || location.Prefix.Length == 0) return null; // said by the stage's own validation
        return await stores.Resolve(location).GetInfoAsync(location.Prefix, cancellationToken).ConfigureAwait(false) is null
            ? $"no such file '{path}'"
            : null;
    }

    /// <summary>
    /// The objects under each input's prefix, listing the store once per group of inputs in the same folder of the same
    /// store (10,000 inputs naming one file each in one folder list it once, not 10,000 times): a group is listed under
    /// its members' longest common prefix and each listed key goes, in listing order, to the members whose prefix it
    /// starts with. A lone input is listed under its own prefix, as before.
    /// </summary>
    /// <remarks>
    /// Objects under the job's own output (<paramref name="ownOutput"/>: its store's location and key prefix), when that
    /// is a folder inside the listed one, are left out and counted: with inputs such as <c>corpus/**/*.jsonl*</c> and
    /// output <c>corpus/curated</c>, a second run would otherwise read the first one's curated shards, and its id index,
    /// as new input.
    /// </remarks>
    private static async Task<(IReadOnlyList<ObjectInfo>[] Listings, int OwnOutput)> ListOnceAsync(StoreLocation[] locations, IStoreResolver stores,
        string? ownOutput, CancellationToken cancellationToken)
    {
        var result = new IReadOnlyList<ObjectInfo>[locations.Length];
        var skipped = 0;
        var groups = Enumerable.Range(0, locations.Length)
            .GroupBy(i => (locations[i].Kind, locations[i].Root, Folder: Folder(locations[i].Prefix)));
        foreach (var group in groups)
        {
            var members = group.ToArray();
            var common = members.Select(i => locations[i].Prefix).Aggregate(CommonPrefix);
            var store = stores.Resolve(locations[members[0]]);
            // Only an output folder strictly inside the listed folder is left out: an output written into the inputs' own
            // folder, or above it, is the spec's explicit choice (and its objects cannot be told from the inputs).
            var listed = group.Key.Folder.Length == 0 ? store.Location : $"{store.Location}/{group.Key.Folder.TrimEnd('/')}";
            var skipOwn = ownOutput is not null && ownOutput.Length > listed.Length && IsUnder(ownOutput, listed);
            // Each listed key goes to every member whose prefix it starts with: one lookup per distinct prefix length.
            var byPrefix = members.GroupBy(i => locations[i].Prefix, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
            var lengths = byPrefix.Keys.Select(p => p.Length).Distinct().Order().ToArray();
            var found = members.ToDictionary(i => i, _ => new List<ObjectInfo>());
            await foreach (var info in store.ListAsync(common, cancellationToken).ConfigureAwait(false))
            {
                // The data store's own folders are never input (validation refuses such paths; this keeps a listing of the root out of them).
                if (group.Key.Kind == StoreKind.DataStore && DataStoreFolders.Reserved.Contains(FirstSegment(info.Key))) continue;
                if (skipOwn && IsUnder($"{store.Location}/{info.Key}", ownOutput!)) { skipped++; continue; }
                foreach (var length in lengths)
                {
                    if (length > info.Key.Length) break;
                    if (byPrefix.TryGetValue(info.Key[..length], out var owners))
                        foreach (var i in owners) found[i].Add(info);
                }
            }
            foreach (var i in members) result[i] = found[i];
        }
        return (result, skipped);
    }

    /// <summary>
    /// The job's output root as one string comparable with a listed object's <c>{store location}/{key}</c> (the same store
    /// is the same location whichever input or output path named it), and that same name when the root is an existing
    /// object (a file, not a folder). Both null when the root cannot be resolved here: the output step reports it. The
    /// file check is advisory: a store error there is left to the output's own writes.
    /// </summary>
    private static async Task<(string? Root, string? File)> OutputRootAsync(JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken)
    {
        StoreLocation location;
        IObjectStore store;
        try
        {
            location = StoreLocation.Parse(spec.OutputRoot());
            store = stores.Resolve(location);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return (null, null);
        }
        var key = location.Prefix.TrimEnd('/');
        if (key.Length == 0) return (store.Location, null);
        var root = $"{store.Location}/{key}";
        try
        {
            return (root, await store.GetInfoAsync(key, cancellationToken).ConfigureAwait(false) is not null ? root : null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (root, null);
        }
    }

    /// <summary>
    /// An output path that already holds another job's output, or a corpus of the other kind, is refused before anything
    /// runs: the output stage's manifest task found it only after every stage had run (a long embedding included) and
    /// failed four times. Advisory (a store error is left to the output's own create-once writes, which check again).
    /// </summary>
    private static async Task<SpecError?> OutputOwnerErrorAsync(string jobId, JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken)
    {
        try
        {
            var location = StoreLocation.Parse(spec.Output.Path);
            var store = stores.Resolve(location);
            var where = $"{store.Location}/{location.Prefix.TrimEnd('/')}";
            var (manifest, _) = await store.TryReadJsonAsync<Manifest>(location.KeyOf(Manifest.FileName), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            if (spec.Output.Snapshots)
                return manifest is { Snapshot: null }
                    ? new SpecError("output.path", $"{where} holds the output of job {manifest.JobId}, not a versioned corpus: choose another " +
                                                   "output.path for the corpus")
                    : null;
            if (manifest is not null && manifest.JobId != jobId)
                return new SpecError("output.path", $"{where} already holds the output of another job, {manifest.JobId} (another spec, or this " +
                    "one before a change): outputs are never overwritten; choose a new output.path, or delete that folder to write this job's output there");
            var (current, _) = await CorpusSnapshots.ReadCurrentAsync(store, location.Prefix.TrimEnd('/'), cancellationToken).ConfigureAwait(false);
            return current is null ? null
                : new SpecError("output.path", $"{where} holds a versioned corpus (current.json, snapshot {current.Snapshot}): set " +
                                               "output.snapshots to true to refresh it, or choose a new output.path");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    private static bool IsUnder(string name, string root) =>
        name.StartsWith(root, StringComparison.Ordinal) && (name.Length == root.Length || name[root.Length] == '/');

    private static string Folder(string prefix) => prefix[..(prefix.LastIndexOf('/') + 1)];

    private static string FirstSegment(string key) => key.IndexOf('/') is var slash and >= 0 ? key[..slash] : key;

    private static string CommonPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return a[..n];
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
        var listedKeys = listed.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        var vanished = table.Keys.Where(k => !listedKeys.Contains(k)).Order(StringComparer.Ordinal).ToArray();
        return (toRead, new RefreshPlan
        {
            Snapshot = number, Folder = CorpusSnapshots.Folder(number, jobId), BaseSnapshot = current?.Snapshot, BaseManifest = current?.Manifest,
            Inputs = table.Values.OrderBy(o => o.Key, StringComparer.Ordinal).ToArray(), SkippedObjects = skipped, ChangedObjects = changed,
            VanishedObjects = vanished.Length, VanishedExamples = vanished.Take(RefreshPlan.VanishedExampleCount).ToArray(),
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
