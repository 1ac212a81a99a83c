using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Reports;

/// <summary>A bar of a distribution: documents whose value is at most <c>UpTo</c> (and above the previous bar's).</summary>
public sealed record Bar(string Label, long Count);

/// <summary>A short excerpt of one document for the report's samples (the text as data: escaped wherever it is shown).</summary>
public sealed record Sample(string Id, string Source, string? Reason, string? Twin, string? Text);

/// <summary>
/// <c>report.json</c>: the corpus at a glance, written with every output so that it travels with it: books and funnel,
/// drop reasons per stage, length distribution (characters), per-source breakdown, the stages' own reports and
/// samples of kept and dropped documents.
/// </summary>
public sealed record CorpusReport
{
    public const string JsonName = "report.json";
    public const string HtmlName = "report.html";
    private const int SamplesPerReason = 3;
    private const int KeptSamples = 5;
    private const int ExcerptChars = 300;
    private static readonly long[] LengthEdges = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, long.MaxValue];

    public required string JobId { get; init; }
    public required string JobName { get; init; }
    public required long Documents { get; init; }
    public required IReadOnlyList<StageAccount> Books { get; init; }
    public required IReadOnlyList<Bar> Funnel { get; init; }
    public required IReadOnlyList<Bar> LengthChars { get; init; }
    public required IReadOnlyList<Bar> Sources { get; init; }
    public required IReadOnlyList<Sample> Kept { get; init; }
    public required IReadOnlyList<Sample> Dropped { get; init; }
    public Dictionary<string, JsonElement> StageReports { get; init; } = [];

    /// <summary>Builds the report of one run's output by streaming its shards and drops once (bounded memory: counters and samples).</summary>
    public static async Task<CorpusReport> BuildAsync(IObjectStore output, StoreLocation location, Manifest manifest, CancellationToken cancellationToken = default)
    {
        var lengths = new long[LengthEdges.Length];
        var sources = new Dictionary<string, long>(StringComparer.Ordinal);
        var kept = new List<Sample>();
        long documents = 0;
        foreach (var shard in manifest.Shards)
        {
            var bytes = await output.ReadBytesAsync(location.KeyOf(shard.Key), cancellationToken).ConfigureAwait(false);
            await foreach (var (id, source, text) in JsonlShardFile.ReadDocumentsAsync(new MemoryStream(bytes), shard.Key, cancellationToken).ConfigureAwait(false))
            {
                documents++;
                var chars = System.Globalization.StringInfo.ParseCombiningCharacters(text).Length; // characters as readers count them, any script
                lengths[Array.FindIndex(LengthEdges, e => chars <= e)]++;
                var group = SourceGroup(source);
                sources[group] = sources.GetValueOrDefault(group) + 1;
                if (kept.Count < KeptSamples) kept.Add(new Sample(id, source, null, null, Excerpt(text)));
            }
        }
        var dropped = new List<Sample>();
        var perReason = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var file in manifest.Drops)
        {
            var bytes = await output.ReadBytesAsync(location.KeyOf(file.Key), cancellationToken).ConfigureAwait(false);
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(bytes), cancellationToken).ConfigureAwait(false);
            await foreach (var batch in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var reasons = batch.GetColumn<string>(DropsSchema.Reason);
                var twins = batch.GetColumn<string>(DropsSchema.TwinId);
                for (var i = 0; i < batch.RowCount; i++)
                {
                    if (perReason.GetValueOrDefault(reasons[i]) >= SamplesPerReason) continue;
                    perReason[reasons[i]] = perReason.GetValueOrDefault(reasons[i]) + 1;
                    dropped.Add(new Sample(batch.Ids[i], batch.Sources[i], reasons[i], twins[i].Length == 0 ? null : twins[i], null));
                }
            }
        }
        var books = manifest.Accounting.Stages;
        return new CorpusReport
        {
            JobId = manifest.JobId, JobName = manifest.JobName, Documents = documents, Books = books,
            Funnel = books.Count == 0 ? [] : [new Bar("in", books[0].In), .. books.Select(s => new Bar(s.Stage, s.Kept))],
            LengthChars = LengthEdges.Select((e, i) => new Bar(e == long.MaxValue ? $"> {LengthEdges[^2]:N0}" : $"≤ {e:N0}", lengths[i])).ToArray(),
            Sources = sources.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Take(20).Select(s => new Bar(s.Key, s.Value)).ToArray(),
            Kept = kept, Dropped = dropped, StageReports = manifest.Reports,
        };
    }

    /// <summary>Writes report.json and report.html next to the manifest (create-once; deterministic content).</summary>
    public static async Task WriteAsync(IObjectStore output, StoreLocation location, string folder, Manifest manifest, CancellationToken cancellationToken = default)
    {
        var report = await BuildAsync(output, location, manifest, cancellationToken).ConfigureAwait(false);
        var json = JsonSerializer.SerializeToUtf8Bytes(report, CurationJson.Options);
        var html = System.Text.Encoding.UTF8.GetBytes(CorpusReportHtml.Render(report));
        await output.CreateOnceAsync(location.KeyOf(Join(folder, JsonName)), (s, ct) => s.WriteAsync(json, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        await output.CreateOnceAsync(location.KeyOf(Join(folder, HtmlName)), (s, ct) => s.WriteAsync(html, ct).AsTask(), cancellationToken).ConfigureAwait(false);
    }

    public static string Join(string folder, string name) => folder.TrimEnd('/') is { Length: > 0 } f ? $"{f}/{name}" : name;

    /// <summary>The source object's folder (or the object itself when at the root): the per-source breakdown's unit.</summary>
    private static string SourceGroup(string source) => source.LastIndexOf('/') is var slash and > 0 ? source[..slash] : source;

    private static string Excerpt(string text) => text.Length <= ExcerptChars ? text : text[..ExcerptChars] + "…";
}
