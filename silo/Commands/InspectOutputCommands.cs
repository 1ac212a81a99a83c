using System.CommandLine;
using System.Globalization;
using System.Text;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate inspect document &lt;output&gt; &lt;id&gt;</c> and <c>curate inspect drops &lt;output&gt;</c>: the drop explorer of the
/// API (<c>GET /api/jobs/{id}/documents/{docId}</c>, <c>/drops</c>) on a local output, with no silo running: a document's
/// fate and its chain of twins to the kept survivor, and pages of drops by stage and reason. The output is the folder
/// <c>curate run</c> printed (a path or its <c>file://</c> URL); the dropped documents' texts come from the job's working
/// copy in the data store, found above the output (or <c>--data</c>). Texts are shown as text: line breaks and control
/// characters (a terminal's escape sequences) are written as visible escapes, never sent to the terminal.
/// </summary>
public static class InspectOutputCommands
{
    public static Command Document()
    {
        var output = new Argument<string>("output") { Description = "The job's output folder (the path or file:// URL `curate run` printed after Completed →)." };
        var id = new Argument<string>("id") { Description = "The document's id." };
        var chars = CharsOption();
        var data = DataOption();
        var command = new Command("document", "Show a document's fate: kept, or dropped (stage, reason, detail) with the chain of twins to the kept document.")
        {
            output, id, chars, data,
        };
        command.SetAction((parse, cancellationToken) =>
            DocumentAsync(parse.GetValue(output)!, parse.GetValue(id)!, parse.GetValue(chars), parse.GetValue(data), Console.Out, cancellationToken));
        return command;
    }

    public static Command Drops()
    {
        var output = new Argument<string>("output") { Description = "The job's output folder (the path or file:// URL `curate run` printed after Completed →)." };
        var stage = new Option<string?>("--stage") { Description = "Only this stage's drops (its type, e.g. near_dedup)." };
        var reason = new Option<string?>("--reason") { Description = "Only drops for this reason (e.g. near_duplicate)." };
        var limit = new Option<int>("--limit") { Description = "Drops to list.", DefaultValueFactory = _ => 20 };
        var after = new Option<string?>("--after") { Description = "Continue after this cursor (the one the previous page printed)." };
        var chars = CharsOption();
        var data = DataOption();
        var command = new Command("drops", "List an output's drops (optionally of one stage or reason), with their texts.") { output, stage, reason, limit, after, chars, data };
        command.SetAction((parse, cancellationToken) => DropsAsync(parse.GetValue(output)!, parse.GetValue(stage), parse.GetValue(reason), parse.GetValue(limit),
            parse.GetValue(after), parse.GetValue(chars), parse.GetValue(data), Console.Out, cancellationToken));
        return command;
    }

    private static Option<int> CharsOption() =>
        new("--chars") { Description = "Characters of each text to show (0: none, -1: all).", DefaultValueFactory = _ => 300 };

    private static Option<string?> DataOption() =>
        new("--data") { Description = "Data store folder holding the job's working copy (default: the folder above the output that has jobs/{job id}, else ./data)." };

    public static async Task<int> DocumentAsync(string outputPath, string id, int chars, string? dataRoot, TextWriter console, CancellationToken cancellationToken)
    {
        var opened = await OpenAsync(outputPath, dataRoot, cancellationToken).ConfigureAwait(false);
        if (opened.Error is { } error) return Fail(error);
        var (manifest, location, stores) = (opened.Manifest!, opened.Location!, opened.Stores!);
        // Each job of the chain (a versioned corpus' snapshots are several) is loaded once, for its dropped texts and its spec.
        var jobs = new Dictionary<string, Task<JobContext?>>(StringComparer.Ordinal);
        Task<JobContext?> Job(string jobId) => jobs.TryGetValue(jobId, out var job) ? job
            : jobs[jobId] = DocumentLineage.TryLoadJobAsync(stores, jobId, cancellationToken);
        var chain = await DocumentLineage.FollowAsync(stores.Resolve(location), location, manifest, id,
            async (entry, jobId, ct) => await Job(jobId).ConfigureAwait(false) is { } job ? await DocumentLineage.DroppedTextAsync(job, entry, ct).ConfigureAwait(false) : null,
            cancellationToken).ConfigureAwait(false);
        if (chain.Count == 0)
            return Fail($"{opened.Folder}: no document '{T(id)}' in this output (its id index lists every kept and dropped id; check the id field the job used)");

        var first = chain[0].Entry;
        console.WriteLine(first.Kept
            ? $"{T(id)}: kept{(chain[0].Snapshot is { } s ? $" (snapshot {s})" : "")}"
            : $"{T(id)}: dropped by {T(first.Stage)} ({T(first.Reason)}){(first.Twin is null ? "" : $", a copy of {T(first.Twin)}")}");
        var spec = (await Job(manifest.JobId).ConfigureAwait(false))?.Spec;
        for (var k = 0; k < chain.Count; k++)
        {
            var step = chain[k];
            var entry = step.Entry;
            console.WriteLine();
            console.WriteLine($"{(k == 0 ? "" : "→ ")}{T(entry.Id)}  {(entry.Kept ? "kept" : $"dropped  {T(entry.Stage)}  {T(entry.Reason)}")}" +
                              $"{(step.Snapshot is { } snapshot ? $"  (snapshot {snapshot})" : "")}");
            console.WriteLine($"  source  {T(entry.Source)} (record {entry.Position.ToString(CultureInfo.InvariantCulture)})");
            if (entry.Shard is not null && entry.Kept) console.WriteLine($"  shard   {T(entry.Shard)}");
            if (!string.IsNullOrEmpty(entry.Detail)) console.WriteLine($"  detail  {Visible(entry.Detail, -1)}");
            if (k + 1 < chain.Count && DocumentLineage.SimilarityToTwin(spec, step, chain[k + 1]) is { } similarity)
                console.WriteLine($"  similarity to {T(chain[k + 1].Entry.Id)}: {similarity}");
            if (chars != 0)
                console.WriteLine(step.Text is null
                    ? "  text    (not available: the job's working copy is not in the data store)"
                    : $"  text    {Visible(step.Text, chars)}");
        }
        return 0;
    }

    public static async Task<int> DropsAsync(string outputPath, string? stage, string? reason, int limit, string? after, int chars, string? dataRoot,
        TextWriter console, CancellationToken cancellationToken)
    {
        if (limit < 1) return Fail($"--limit: must be ≥ 1, not {limit}");
        var opened = await OpenAsync(outputPath, dataRoot, cancellationToken).ConfigureAwait(false);
        if (opened.Error is { } error) return Fail(error);
        var (manifest, location, stores) = (opened.Manifest!, opened.Location!, opened.Stores!);
        if (after is not null && !DocumentLineage.TryParseCursor(after, manifest.Drops.Count, out _, out _))
            return Fail($"--after: '{after}' is not a cursor of this output's drops (pass the one the previous page printed)");
        var (drops, next) = await DocumentLineage.DropsPageAsync(stores.Resolve(location), location, manifest, stage, reason, limit, after, cancellationToken)
            .ConfigureAwait(false);
        if (drops.Count == 0 && after is not null)
        {
            console.WriteLine($"No more drops{(stage is null ? "" : $" of stage {stage}")}{(reason is null ? "" : $" for reason {reason}")}: the previous page was the last.");
            return 0;
        }
        if (drops.Count == 0)
        {
            var counts = manifest.Accounting.Stages.SelectMany(s => s.Dropped.Select(d => $"{s.Stage} {d.Key} {d.Value.ToString("N0", CultureInfo.InvariantCulture)}"));
            console.WriteLine($"No drops{(stage is null ? "" : $" of stage {stage}")}{(reason is null ? "" : $" for reason {reason}")}" +
                              $". This output's drops: {string.Join(", ", counts.DefaultIfEmpty("none"))}.");
            return 0;
        }
        var job = chars == 0 ? null : await DocumentLineage.TryLoadJobAsync(stores, manifest.JobId, cancellationToken).ConfigureAwait(false);
        foreach (var entry in drops)
        {
            console.WriteLine($"{T(entry.Id)}  {T(entry.Stage)}  {T(entry.Reason)}{(entry.Twin is null ? "" : $"  copy of {T(entry.Twin)}")}");
            if (!string.IsNullOrEmpty(entry.Detail)) console.WriteLine($"  detail  {Visible(entry.Detail, -1)}");
            if (chars == 0) continue;
            var text = job is null ? null : await DocumentLineage.DroppedTextAsync(job, entry, cancellationToken).ConfigureAwait(false);
            console.WriteLine(text is null ? "  text    (not available: the job's working copy is not in the data store)" : $"  text    {Visible(text, chars)}");
        }
        console.WriteLine();
        console.WriteLine((next is null ? $"{drops.Count} drops; the last page." : $"{drops.Count} drops; more with --after {next}") +
                          (manifest.Snapshot is { } snapshot && snapshot.Number > 1
                              ? $" (snapshot {snapshot.Number}'s drops; `curate inspect document` finds the ids earlier snapshots dropped too)"
                              : ""));
        return 0;
    }

    private sealed record Opened(string Folder, Manifest? Manifest, StoreLocation? Location, IStoreResolver? Stores, string? Error);

    /// <summary>The output's manifest (a versioned corpus: its current snapshot's) and a resolver whose data store holds the job's working copy.</summary>
    private static async Task<Opened> OpenAsync(string outputPath, string? dataRoot, CancellationToken cancellationToken)
    {
        if (StoreLocation.LocalPathOf(outputPath) is not { } local)
            return new Opened(outputPath, null, null, null, $"'{outputPath}': name the output folder on this machine (a path or a file:// URL)");
        var folder = Path.GetFullPath(local);
        if (!Directory.Exists(folder))
            return new Opened(folder, null, null, null, File.Exists(folder)
                ? $"'{folder}' is a file: name the output folder (the one holding manifest.json)"
                : $"'{folder}': no such folder");
        var location = StoreLocation.Parse(folder);
        var outputStore = new LocalFolderStore(folder);
        var (manifest, _) = await outputStore.TryReadJsonAsync<Manifest>(Manifest.FileName, CurationJson.Options, cancellationToken).ConfigureAwait(false);
        manifest ??= await CorpusSnapshots.ReadCurrentManifestAsync(outputStore, "", cancellationToken).ConfigureAwait(false);
        if (manifest is null)
            return new Opened(folder, null, null, null,
                $"'{folder}' holds no manifest.json: name the folder `curate run` printed after 'Completed →' (a job's output is written when it completes)");
        if (manifest.IdIndex is null)
            return new Opened(folder, null, null, null, $"'{folder}': this output has no id index (written before the explorer existed); run the job again to write one");
        var root = dataRoot is not null ? Path.GetFullPath(dataRoot) : DataRootAbove(folder, manifest.JobId) ?? Path.GetFullPath("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        return new Opened(folder, manifest, location, stores, null);
    }

    /// <summary>The nearest folder above the output holding the job's working copy (<c>jobs/{jobId}</c>): the data store it ran in.</summary>
    private static string? DataRootAbove(string folder, string jobId)
    {
        for (var dir = folder; dir is not null; dir = Path.GetDirectoryName(dir))
            if (Directory.Exists(Path.Combine(dir, "jobs", jobId))) return dir;
        return null;
    }

    /// <summary>An id, source key, stage or reason from the output, shown as text like the documents (ids come from the input).</summary>
    private static string T(string? value) => value is null ? "" : Visible(value, -1);

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    /// <summary>
    /// A text as text: every control or format character that a terminal would act on (ESC of an escape sequence, bidi
    /// overrides) as \uXXXX; on one line (<paramref name="oneLine"/>) line breaks as ⏎ and tabs as →; cut after
    /// <paramref name="chars"/> characters (-1: all).
    /// </summary>
    public static string Visible(string text, int chars, bool oneLine = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var shown = chars < 0 || text.Length <= chars ? text : text[..chars];
        var builder = new StringBuilder(shown.Length + 16);
        foreach (var c in shown)
        {
            if (c is '\n' or '\t' && !oneLine) builder.Append(c);
            else if (c == '\n') builder.Append('⏎');
            else if (c == '\t') builder.Append('→');
            else if (c == '\r') continue; // a lone one would return the terminal's cursor over the line
            else if (char.IsControl(c) || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069')
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            else builder.Append(c);
        }
        if (shown.Length < text.Length)
            builder.Append(CultureInfo.InvariantCulture, $"… ({text.Length - shown.Length:N0} more characters)");
        return builder.ToString();
    }
}
