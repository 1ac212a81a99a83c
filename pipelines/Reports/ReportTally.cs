using System.Globalization;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Reports;

/// <summary>One language's counters in a <see cref="ReportTally"/>.</summary>
public sealed record LanguageTally(long Documents, long Chars, long Tokens);

/// <summary>
/// The <see cref="CorpusReport"/>'s counters over some curated documents (one shard, or all of them added up in shard
/// order): lengths, tokens, languages and their scores, sources and the first kept samples. Serializable, so the pass that
/// writes a shard can keep its tally (<see cref="Tap"/>) and the manifest adds the tallies up instead of reading every
/// shard again.
/// </summary>
public sealed class ReportTally
{
    /// <summary>The extra columns a tally reads besides id, source and text.</summary>
    public static readonly IReadOnlyList<string> Fields = [TokenizeStage.TokenCountColumn, LanguageTransform.LanguageColumn, LanguageTransform.ScoreColumn];

    public long[] Lengths { get; init; } = new long[CorpusReport.LengthEdges.Length];
    public long[] Tokens { get; init; } = new long[CorpusReport.TokenEdges.Length];
    public Dictionary<string, LanguageTally> Languages { get; init; } = new(StringComparer.Ordinal);
    public Dictionary<string, long> Sources { get; init; } = new(StringComparer.Ordinal);
    public List<Sample> Kept { get; init; } = [];
    public long[] LanguageScores { get; init; } = new long[CorpusReport.LanguageScoreBins];
    public bool Counted { get; set; }
    public long Documents { get; set; }

    /// <summary>One document; <paramref name="fields"/> are the <see cref="Fields"/> as text (null where absent).</summary>
    public void Add(string id, string source, string text, string?[] fields)
    {
        var sampled = Kept.Count < CorpusReport.KeptSamples;
        Add(CorpusReport.SourceGroup(source), CorpusReport.TextElements(text), fields);
        if (sampled) Kept.Add(new Sample(id, source, null, null, CorpusReport.Excerpt(text)));
    }

    /// <summary>One document of <paramref name="chars"/> characters from source group <paramref name="group"/>, but its sample.</summary>
    private void Add(string group, int chars, string?[] fields)
    {
        Documents++;
        Lengths[Array.FindIndex(CorpusReport.LengthEdges, e => chars <= e)]++;
        var tokenCount = long.TryParse(fields[0], CultureInfo.InvariantCulture, out var t) ? t : -1;
        if (tokenCount >= 0)
        {
            Counted = true;
            Tokens[Array.FindIndex(CorpusReport.TokenEdges, e => tokenCount <= e)]++;
        }
        if (fields[1] is { } language) AddLanguage(language.Length == 0 ? "und" : language, new LanguageTally(1, chars, Math.Max(0, tokenCount)));
        // The language stage's confidence (absent when a language column came from the input): ten bins of 0.1.
        if (double.TryParse(fields[2], CultureInfo.InvariantCulture, out var score))
            LanguageScores[Math.Clamp((int)(score * CorpusReport.LanguageScoreBins), 0, CorpusReport.LanguageScoreBins - 1)]++;
        Sources[group] = Sources.GetValueOrDefault(group) + 1;
    }

    /// <summary>
    /// Every row of a batch of a curated shard, with the <see cref="Fields"/> as the shard's reader gives them
    /// (<see cref="IO.JsonlShardFile.ReadDocumentFieldsAsync"/>: the column's value as invariant text, null without the column).
    /// Columns still held as the UTF-8 they were read as stay so: characters are counted on the bytes, a row's strings are
    /// made only for the samples, and a source's group once per run of rows from the same source.
    /// </summary>
    public void Add(RecordBatch batch)
    {
        var columns = Fields.Select(batch.Find).ToArray();
        var (ids, sources, texts) = (batch.Ids, batch.Sources, batch.Texts);
        var fields = new string?[columns.Length];
        var groups = new SourceGroups();
        for (var i = 0; i < batch.RowCount; i++)
        {
            for (var f = 0; f < columns.Length; f++) fields[f] = columns[f] is { } c ? Convert.ToString(c.Values[i], CultureInfo.InvariantCulture) : null;
            var sampled = Kept.Count < CorpusReport.KeptSamples;
            var chars = texts.Utf8 is { } utf8 ? Utf8TextElements.Count(utf8.Span(i)) : CorpusReport.TextElements(texts[i]);
            Add(groups.Of(sources, i), chars, fields);
            if (sampled) Kept.Add(new Sample(ids.ValueAt(i), sources.ValueAt(i), null, null, CorpusReport.Excerpt(texts.ValueAt(i))));
        }
    }

    /// <summary>Source groups of consecutive rows: rows of one source come in runs, so a group is computed once per run.</summary>
    private sealed class SourceGroups
    {
        private byte[]? _lastBytes;
        private string? _lastSource;
        private string _lastGroup = "";

        public string Of(Column<string> sources, int row)
        {
            if (sources.Utf8 is { } utf8)
            {
                var bytes = utf8.Span(row);
                if (_lastBytes is null || !bytes.SequenceEqual(_lastBytes))
                    (_lastBytes, _lastGroup) = (bytes.ToArray(), CorpusReport.SourceGroup(utf8.GetString(row) ?? ""));
                return _lastGroup;
            }
            var source = sources[row];
            if (!string.Equals(source, _lastSource, StringComparison.Ordinal)) (_lastSource, _lastGroup) = (source, CorpusReport.SourceGroup(source));
            return _lastGroup;
        }
    }

    /// <summary>Adds a later shard's tally (call in shard order).</summary>
    public void Add(ReportTally other)
    {
        Documents += other.Documents;
        Counted |= other.Counted;
        for (var i = 0; i < Lengths.Length; i++) Lengths[i] += other.Lengths[i];
        for (var i = 0; i < Tokens.Length; i++) Tokens[i] += other.Tokens[i];
        for (var i = 0; i < LanguageScores.Length; i++) LanguageScores[i] += other.LanguageScores[i];
        foreach (var (language, count) in other.Languages) AddLanguage(language, count);
        foreach (var (group, count) in other.Sources) Sources[group] = Sources.GetValueOrDefault(group) + count;
        Kept.AddRange(other.Kept.Take(CorpusReport.KeptSamples - Kept.Count));
    }

    private void AddLanguage(string language, LanguageTally count)
    {
        var had = Languages.GetValueOrDefault(language) ?? new LanguageTally(0, 0, 0);
        Languages[language] = new LanguageTally(had.Documents + count.Documents, had.Chars + count.Chars, had.Tokens + count.Tokens);
    }

    /// <summary>
    /// The tally of one curated shard gathered while a pass writes it (the output's deferred apply, or the document pass
    /// before the output): committed create-once under <paramref name="key"/> before the shard is, so a committed shard
    /// has its tally unless another writer made it (then the manifest reads the shard).
    /// </summary>
    public sealed class Tap(IObjectStore store, string key) : IShardTap
    {
        private readonly ReportTally _tally = new();

        public void Add(RecordBatch batch) => _tally.Add(batch);

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(_tally, CurationJson.Compact);
            return store.CreateOnceAsync(key, (s, ct) => s.WriteAsync(json, ct).AsTask(), cancellationToken);
        }
    }

    /// <summary>A shard's committed tally, or null when none was gathered (then the shard is read).</summary>
    public static async Task<ReportTally?> TryReadAsync(IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var (tally, _) = await store.TryReadJsonAsync<ReportTally>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
        return tally;
    }
}
