using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.IO;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Reports;

/// <summary>
/// The corpus by language, from the <c>language</c> / <c>language_score</c> columns the language stage writes: curated
/// documents per language and the histogram of scores (ten bins of 0.1). Empty when the output has no such column.
/// Bounded memory: counters only.
/// </summary>
public sealed class LanguageBreakdown
{
    public const int Bins = 10;
    private readonly Dictionary<string, long> _languages = new(StringComparer.Ordinal);
    private readonly long[] _scores = new long[Bins];

    /// <summary>Adds the documents of one curated shard (Parquet or JSON Lines, as the output wrote it).</summary>
    public async Task AddShardAsync(byte[] shard, string key, CancellationToken cancellationToken)
    {
        if (key.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(shard), cancellationToken).ConfigureAwait(false);
            if (reader.Schema.All(c => c.Name != LanguageTransform.LanguageColumn)) return;
            // A language column may come from the input (metadata passthrough) without the language stage's score.
            var scored = reader.Schema.Any(c => c.Name == LanguageTransform.ScoreColumn && c.Type == typeof(double));
            string[] columns = scored ? [LanguageTransform.LanguageColumn, LanguageTransform.ScoreColumn] : [LanguageTransform.LanguageColumn];
            await foreach (var batch in reader.ReadColumnsAsync(columns, cancellationToken).ConfigureAwait(false))
            {
                var languages = batch.GetColumn<string>(LanguageTransform.LanguageColumn);
                var scores = scored ? batch.GetColumn<double>(LanguageTransform.ScoreColumn) : null;
                for (var i = 0; i < batch.RowCount; i++) Add(languages[i] ?? LanguageIdentifier.Undetermined, scores?[i]);
            }
            return;
        }
        await using var decompressed = key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(new MemoryStream(shard), CompressionMode.Decompress)
            : (Stream)new ZstdSharp.DecompressionStream(new MemoryStream(shard));
        using var lines = new StreamReader(decompressed, Encoding.UTF8);
        while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            if (!document.RootElement.TryGetProperty(LanguageTransform.LanguageColumn, out var language)) return;
            double? score = document.RootElement.TryGetProperty(LanguageTransform.ScoreColumn, out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : null;
            Add(language.GetString() ?? LanguageIdentifier.Undetermined, score);
        }
    }

    /// <summary>Counts one document; <paramref name="score"/> null (no language_score column) counts its language only.</summary>
    public void Add(string language, double? score)
    {
        _languages[language] = _languages.GetValueOrDefault(language) + 1;
        if (score is { } value) _scores[Math.Clamp((int)(value * Bins), 0, Bins - 1)]++;
    }

    /// <summary>Documents per language, most first (ties by code).</summary>
    public IReadOnlyList<Bar> Languages => _languages.OrderByDescending(l => l.Value).ThenBy(l => l.Key, StringComparer.Ordinal)
        .Select(l => new Bar(l.Key, l.Value)).ToArray();

    /// <summary>Scores in bins [0, 0.1), [0.1, 0.2) … [0.9, 1]; empty when no document had a language_score column.</summary>
    public IReadOnlyList<HistogramBin> Scores => _scores.Sum() == 0
        ? []
        : _scores.Select((count, i) => new HistogramBin(i / (double)Bins, (i + 1) / (double)Bins, count)).ToArray();
}
