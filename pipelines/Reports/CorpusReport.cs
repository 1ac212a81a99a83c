using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Reports;

/// <summary>A bar of a distribution: documents whose value is at most <c>UpTo</c> (and above the previous bar's).</summary>
public sealed record Bar(string Label, long Count);

/// <summary>One distribution of the report: an id (the HTML section's), a title and its bars.</summary>
public sealed record Distribution(string Id, string Title, IReadOnlyList<Bar> Bars);

/// <summary>One language's share of the curated corpus: documents, mean length in characters and in tokens (when tokenized).</summary>
public sealed record LanguageRow(string Language, long Documents, double MeanChars, double? MeanTokens);

/// <summary>A short excerpt of one document for the report's samples (the text as data: escaped wherever it is shown).</summary>
public sealed record Sample(string Id, string Source, string? Reason, string? Twin, string? Text);

/// <summary>
/// <c>report.json</c>: the corpus at a glance, written with every output so that it travels with it: books and funnel,
/// drop reasons per stage, length distribution (characters), per-source breakdown, documents per language and language
/// scores (when the job identified languages), the stages' own reports and
/// samples of kept and dropped documents.
/// </summary>
public sealed record CorpusReport
{
    public const string JsonName = "report.json";
    public const string HtmlName = "report.html";
    private const int SamplesPerReason = 3;
    internal const int KeptSamples = 5;
    private const int ExcerptChars = 300;
    internal static readonly long[] LengthEdges = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, long.MaxValue];
    internal static readonly long[] TokenEdges = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, long.MaxValue];
    private const int MaxBars = 30;

    public required string JobId { get; init; }
    public required string JobName { get; init; }
    public required long Documents { get; init; }
    public required IReadOnlyList<StageAccount> Books { get; init; }
    public required IReadOnlyList<Bar> Funnel { get; init; }
    public required IReadOnlyList<Bar> LengthChars { get; init; }
    public required IReadOnlyList<Bar> Sources { get; init; }

    /// <summary>Histogram of the curated documents' <c>language_score</c> (ten bins of 0.1); empty without the language stage.</summary>
    public IReadOnlyList<HistogramBin> LanguageScores { get; init; } = [];

    internal const int LanguageScoreBins = 10;
    public required IReadOnlyList<Sample> Kept { get; init; }
    public required IReadOnlyList<Sample> Dropped { get; init; }
    public Dictionary<string, JsonElement> StageReports { get; init; } = [];

    /// <summary>
    /// Tokens per document (when a stage counted them), languages (when a <c>language</c> column exists), every thresholded
    /// measure of a filter or dedup stage (the what-if's histograms: quality measures, near-dup similarity of candidate pairs),
    /// semantic M, cluster and component sizes.
    /// </summary>
    public IReadOnlyList<Distribution> Distributions { get; init; } = [];

    /// <summary>Per-language breakdown (empty without a <c>language</c> column), most documents first.</summary>
    public IReadOnlyList<LanguageRow> Languages { get; init; } = [];

    /// <summary>
    /// Builds the report of one run's output by streaming its shards and drops once (bounded memory: counters and samples).
    /// <paramref name="gathered"/>, when given, holds per shard (in <see cref="Manifest.Shards"/> order) the tally the pass that
    /// wrote it gathered (<see cref="ReportTally.Tap"/>); a shard without one (null) is read.
    /// </summary>
    public static async Task<CorpusReport> BuildAsync(IObjectStore output, StoreLocation location, Manifest manifest, JobSpec? spec = null,
        CancellationToken cancellationToken = default, IReadOnlyList<ReportTally?>? gathered = null)
    {
        // The shards are tallied in parallel and the tallies added in shard order (the kept samples are the first ones of
        // the first shards), so the report does not depend on which shard finished first.
        var tallies = new ReportTally[manifest.Shards.Count];
        await Parallel.ForAsync(0, tallies.Length, cancellationToken, async (s, ct) =>
        {
            if (gathered is not null && s < gathered.Count && gathered[s] is { } known)
            {
                tallies[s] = known;
                return;
            }
            var shard = manifest.Shards[s];
            var tally = new ReportTally();
            var bytes = await output.ReadBytesAsync(location.KeyOf(shard.Key), ct).ConfigureAwait(false);
            await foreach (var (id, source, text, fields) in JsonlShardFile.ReadDocumentFieldsAsync(new MemoryStream(bytes), shard.Key,
                               ReportTally.Fields, ct).ConfigureAwait(false))
                tally.Add(id, source, text, fields);
            tallies[s] = tally;
        }).ConfigureAwait(false);
        var all = new ReportTally();
        foreach (var tally in tallies) all.Add(tally);
        var (lengths, tokens, counted, languages, sources, kept, languageScores, documents) =
            (all.Lengths, all.Tokens, all.Counted, all.Languages, all.Sources, all.Kept, all.LanguageScores, all.Documents);
        var dropped = new List<Sample>();
        var perReason = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var file in manifest.Drops)
        {
            var bytes = await output.ReadBytesAsync(location.KeyOf(file.Key), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(bytes), cancellationToken).ConfigureAwait(false);
            await foreach (var rows in ShuffleTable.ReadAsync<DropRow>(reader, file.Key, cancellationToken).ConfigureAwait(false))
                foreach (var drop in rows)
                {
                    if (perReason.GetValueOrDefault(drop.Reason) >= SamplesPerReason) continue;
                    perReason[drop.Reason] = perReason.GetValueOrDefault(drop.Reason) + 1;
                    dropped.Add(new Sample(drop.Id, drop.Source, drop.Reason, drop.TwinId.Length == 0 ? null : drop.TwinId, null));
                }
        }
        var books = manifest.Accounting.Stages;
        return new CorpusReport
        {
            JobId = manifest.JobId, JobName = manifest.JobName, Documents = documents, Books = books,
            Funnel = books.Count == 0 ? [] : [new Bar("in", books[0].In), .. books.Select(s => new Bar(s.Stage, s.Kept))],
            LengthChars = Edged(LengthEdges, lengths),
            Sources = sources.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Take(20).Select(s => new Bar(s.Key, s.Value)).ToArray(),
            LanguageScores = languageScores.Sum() == 0 ? []
                : languageScores.Select((count, i) => new HistogramBin(i / (double)LanguageScoreBins, (i + 1) / (double)LanguageScoreBins, count)).ToArray(),
            Kept = kept, Dropped = dropped, StageReports = manifest.Reports,
            Distributions =
            [
                .. counted ? [new Distribution("tokens", "Tokens per document", Edged(TokenEdges, tokens))] : Array.Empty<Distribution>(),
                .. languages.Count > 0
                    ? [new Distribution("language", "Language", languages.OrderByDescending(l => l.Value.Documents).ThenBy(l => l.Key, StringComparer.Ordinal)
                        .Take(MaxBars).Select(l => new Bar(l.Key, l.Value.Documents)).ToArray())]
                    : Array.Empty<Distribution>(),
                .. StageDistributions(manifest, spec),
            ],
            Languages = languages.OrderByDescending(l => l.Value.Documents).ThenBy(l => l.Key, StringComparer.Ordinal)
                .Select(l => new LanguageRow(l.Key, l.Value.Documents, Math.Round((double)l.Value.Chars / l.Value.Documents, 1),
                    counted ? Math.Round((double)l.Value.Tokens / l.Value.Documents, 1) : null)).ToArray(),
        };
    }

    private static Bar[] Edged(long[] edges, long[] counts) =>
        edges.Select((e, i) => new Bar(e == long.MaxValue ? $"> {edges[^2]:N0}" : $"≤ {e:N0}", counts[i])).ToArray();

    /// <summary>The stages' own distributions: every thresholded measure (from the task metrics the manifest sums), semantic M, cluster and component sizes.</summary>
    private static IEnumerable<Distribution> StageDistributions(Manifest manifest, JobSpec? spec)
    {
        for (var i = 0; i < (spec?.Stages.Count ?? 0); i++)
        {
            var stage = spec!.Stages[i];
            var folder = JobLayout.StageFolderName(i + 1, stage.Type);
            if (stage is IThresholdedSpec thresholded && manifest.Metrics.TryGetValue(folder, out var metrics))
                foreach (var measure in thresholded.Thresholds)
                {
                    var histogram = MeasureHistogram.Collect(measure, [new TaskStats { Metrics = metrics }]);
                    if (histogram.Bins.Sum(b => b.Count) == 0) continue;
                    yield return new Distribution($"measure-{folder}-{measure.Field}", $"{folder}: {measure.Measure} ({measure.Field} = {measure.Current.ToString(System.Globalization.CultureInfo.InvariantCulture)})",
                        Coarsen(histogram.Bins));
                }
            if (!manifest.Reports.TryGetValue(folder, out var report) || report.ValueKind != JsonValueKind.Object) continue;
            if (report.TryGetProperty("maxSimilarityHistogram", out var m) && m.ValueKind == JsonValueKind.Array)
                yield return new Distribution($"semantic-m-{folder}", $"{folder}: M, highest cosine to an earlier member of the cluster",
                    Coarsen([.. m.EnumerateArray().Select(b => new HistogramBin(b.GetProperty("from").GetDouble(), b.GetProperty("to").GetDouble(), b.GetProperty("count").GetInt64()))]));
            if (report.TryGetProperty("clusterSizes", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty("buckets", out var buckets))
                yield return new Distribution($"clusters-{folder}", $"{folder}: cluster sizes (clusters per size bucket)",
                    [.. buckets.EnumerateArray().Select(b => new Bar($"≤ {b.GetProperty("upTo").GetInt64():N0}", b.GetProperty("clusters").GetInt64()))]);
            if (report.TryGetProperty("componentSizes", out var sizes) && sizes.ValueKind == JsonValueKind.Array && sizes.GetArrayLength() > 0)
                yield return new Distribution($"components-{folder}", $"{folder}: near-duplicate component sizes (components per size)",
                    [.. sizes.EnumerateArray().Take(MaxBars).Select(b => new Bar($"{b.GetProperty("size").GetInt64():N0}", b.GetProperty("components").GetInt64()))]);
        }
    }

    /// <summary>Histogram bins as at most <see cref="MaxBars"/> bars over the range that holds values.</summary>
    private static Bar[] Coarsen(IReadOnlyList<HistogramBin> bins)
    {
        var first = bins.ToList().FindIndex(b => b.Count > 0);
        if (first < 0) return [];
        var last = bins.ToList().FindLastIndex(b => b.Count > 0);
        var width = (last - first) / MaxBars + 1;
        var bars = new List<Bar>();
        for (var from = first; from <= last; from += width)
        {
            var to = Math.Min(last, from + width - 1);
            bars.Add(new Bar($"{Label(bins[from].From)} – {Label(bins[to].To)}", bins.Skip(from).Take(to - from + 1).Sum(b => b.Count)));
        }
        return [.. bars];

        static string Label(double value) => Math.Abs(value) >= 10
            ? Math.Round(value).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)
            : value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Writes report.json and report.html next to the manifest (create-once; deterministic content).</summary>
    public static async Task WriteAsync(IObjectStore output, StoreLocation location, string folder, Manifest manifest, JobSpec? spec = null,
        CancellationToken cancellationToken = default, IReadOnlyList<ReportTally?>? gathered = null)
    {
        var report = await BuildAsync(output, location, manifest, spec, cancellationToken, gathered).ConfigureAwait(false);
        var json = JsonSerializer.SerializeToUtf8Bytes(report, CurationJson.Readable);
        var html = System.Text.Encoding.UTF8.GetBytes(CorpusReportHtml.Render(report));
        await output.CreateOnceAsync(location.KeyOf(Join(folder, JsonName)), (s, ct) => s.WriteAsync(json, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await output.CreateOnceAsync(location.KeyOf(Join(folder, HtmlName)), (s, ct) => s.WriteAsync(html, ct).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    public static string Join(string folder, string name) => folder.TrimEnd('/') is { Length: > 0 } f ? $"{f}/{name}" : name;

    /// <summary>The source object's folder (or the object itself when at the root): the per-source breakdown's unit.</summary>
    internal static string SourceGroup(string source) => source.LastIndexOf('/') is var slash and > 0 ? source[..slash] : source;

    /// <summary>
    /// The text's user-perceived characters (extended grapheme clusters, UAX #29), counted without allocating. An ASCII
    /// character followed by another (or the end) is a cluster of its own: no ASCII character extends, joins or prepends
    /// (GB9–GB9c, GB11–GB13), and only CR LF is one cluster (GB3); anything else is segmented by
    /// <see cref="System.Globalization.StringInfo.GetNextTextElementLength(ReadOnlySpan{char})"/>.
    /// </summary>
    internal static int TextElements(ReadOnlySpan<char> text)
    {
        var count = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c < 0x80 && (i + 1 == text.Length || text[i + 1] < 0x80))
                i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
            else
                i += System.Globalization.StringInfo.GetNextTextElementLength(text[i..]);
            count++;
        }
        return count;
    }

    internal static string Excerpt(string text) => text.Length <= ExcerptChars ? text : text[..ExcerptChars] + "…";
}
