using System.Text;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;

namespace Curation.Bench;

/// <summary>
/// The reference of <c>exact</c>: one pass over the JSONL files, in memory, no intermediate files. Each worker takes a
/// share of the files and, per line: System.Text.Json parse (id, text), the pipeline's <see cref="TextNormalizer"/>,
/// the quality checks on <see cref="TextMeasures"/> with the same thresholds, <see cref="ContentHash"/>, and a
/// Dictionary keeping the smallest id per hash; then the workers' dictionaries are merged.
/// </summary>
public static class BareExactDedup
{
    public sealed record Result(long Documents, long Kept, long Empty, long LowQuality, long Duplicates, long Malformed, IReadOnlyCollection<string> KeptIds);

    public static Result Run(IReadOnlyList<string> files, int threads, NormalizeStageSpec normalize, QualityFilterStageSpec quality, ExactDedupStageSpec dedup)
    {
        // Partition the files across workers, largest first onto the least loaded (what a sensible hand-written loop does).
        var shares = Enumerable.Range(0, threads).Select(_ => (Bytes: 0L, Files: new List<string>())).ToArray();
        foreach (var file in files.OrderByDescending(f => new FileInfo(f).Length).ThenBy(f => f, StringComparer.Ordinal))
        {
            var least = Array.IndexOf(shares, shares.MinBy(s => s.Bytes));
            shares[least] = (shares[least].Bytes + new FileInfo(file).Length, shares[least].Files);
            shares[least].Files.Add(file);
        }

        var partials = new Worker[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, w =>
        {
            var worker = new Worker(normalize, quality, dedup);
            foreach (var file in shares[w].Files) worker.ReadFile(file);
            partials[w] = worker;
        });

        // Merge: the smallest id of each hash over all workers.
        var merged = partials.MaxBy(p => p!.Keepers.Count)!.Keepers;
        foreach (var partial in partials)
        {
            if (ReferenceEquals(partial.Keepers, merged)) continue;
            foreach (var (hash, id) in partial.Keepers)
                if (!merged.TryGetValue(hash, out var current) || string.CompareOrdinal(id, current) < 0) merged[hash] = id;
        }
        var documents = partials.Sum(p => p.Documents);
        var empty = partials.Sum(p => p.Empty);
        var low = partials.Sum(p => p.LowQuality);
        var malformed = partials.Sum(p => p.Malformed);
        return new Result(documents, merged.Count, empty, low, documents - malformed - empty - low - merged.Count, malformed, merged.Values);
    }

    private sealed class Worker(NormalizeStageSpec normalize, QualityFilterStageSpec quality, ExactDedupStageSpec dedup)
    {
        private readonly TextNormalizer _normalizer = new(
            normalize.Form == UnicodeForm.Nfkc ? NormalizationForm.FormKC : NormalizationForm.FormC, normalize.KeepLineBreaks);
        private byte[] _buffer = new byte[1 << 20];

        public Dictionary<ContentHash, string> Keepers { get; } = [];
        public long Documents, Empty, LowQuality, Malformed;

        public void ReadFile(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            int start = 0, end = 0;
            while (true)
            {
                var read = stream.Read(_buffer, end, _buffer.Length - end);
                end += read;
                var newline = _buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                while (newline >= 0)
                {
                    Line(_buffer.AsSpan(start, newline));
                    start += newline + 1;
                    newline = _buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                }
                if (read == 0)
                {
                    if (start < end) Line(_buffer.AsSpan(start, end - start));
                    return;
                }
                // Keep the partial line: move it to the front, or grow when one line fills the buffer.
                if (start == 0 && end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
                else
                {
                    _buffer.AsSpan(start, end - start).CopyTo(_buffer);
                    end -= start;
                    start = 0;
                }
            }
        }

        private void Line(ReadOnlySpan<byte> line)
        {
            if (line.Trim(" \t\r"u8).IsEmpty) return;
            Documents++;
            string? id = null, text = null;
            try
            {
                var reader = new Utf8JsonReader(line);
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { Malformed++; return; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("id"u8)) { reader.Read(); id = reader.GetString(); }
                    else if (reader.ValueTextEquals("text"u8)) { reader.Read(); text = reader.GetString(); }
                    else { reader.Read(); reader.Skip(); }
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                Malformed++;
                return;
            }
            if (id is null || text is null) { Malformed++; return; }

            var normalized = _normalizer.Normalize(text);
            if (normalized.Length == 0) { Empty++; return; }
            var m = TextMeasures.Of(normalized);
            if (m.Chars < quality.MinChars || m.Chars > quality.MaxChars || m.Words < quality.MinWords
                || m.SymbolRatio > quality.MaxSymbolRatio || m.RepeatedLineFraction > quality.MaxRepeatedLineFraction)
            {
                LowQuality++;
                return;
            }
            var hash = ContentHash.Of(normalized, dedup.CaseFold, dedup.CollapseWhitespace);
            if (!Keepers.TryGetValue(hash, out var current) || string.CompareOrdinal(id, current) < 0) Keepers[hash] = id;
        }
    }
}
