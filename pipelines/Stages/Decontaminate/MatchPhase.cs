using System.Globalization;
using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

// The match phase: every document of the shard looked up in the evaluation index; contaminated ones dropped or cut.
public sealed partial class DecontaminateStage
{
    private async Task<TaskStats> MatchAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var index = await EvaluationIndex.SharedAsync(task.Job, ItemsKey(task), Enumerable.Range(0, spec.Partitions).Select(p => IndexKey(task, p)).ToArray())
            .ConfigureAwait(false);
        var transform = new MatchTransform(spec, index);
        var (stats, seconds) = await ShardTransformer.RunAsync(task, task.Task, [new ShardTransformer.Member(this, transform)], task.OutputShardKey(task.Task),
            (_, ct) => StageObjects.WriteJsonOnceAsync(task.Job.Data, HitsKey(task, task.Task), transform.Hits(), ct), cancellationToken).ConfigureAwait(false);
        var result = stats[0] with { Seconds = seconds };
        result.Metrics["contaminated_documents"] = transform.Contaminated;
        result.Metrics["spans_removed"] = transform.SpansRemoved;
        result.Metrics["chars_removed"] = transform.CharsRemoved;
        return result;
    }

    /// <summary>
    /// The match transform: per document, the distinct n-grams it shares with each item; an item that reaches
    /// <c>minMatches</c> (or <c>minFraction</c> of its n-grams) contaminates it.
    /// </summary>
    private sealed class MatchTransform(DecontaminateStageSpec spec, EvaluationIndex index) : IDocumentTransform
    {
        private readonly EvaluationNgrams _ngrams = new(spec.Ngram);
        private readonly List<NgramToken> _tokens = [];
        private readonly List<ulong> _hashes = [];
        private readonly Dictionary<int, HashSet<ulong>> _matched = [];
        private readonly HashSet<ulong> _distinct = [];
        private readonly List<(int Position, int Item)> _positions = [];
        private readonly Dictionary<int, ItemHits> _hits = [];
        private readonly long[] _benchmarkDocuments = new long[spec.Benchmarks.Count];

        public IReadOnlyList<ColumnSchema> AddedColumns { get; } = [new(MatchedColumn, typeof(int))];

        public long Contaminated { get; private set; }
        public long SpansRemoved { get; private set; }
        public long CharsRemoved { get; private set; }

        /// <summary>What this shard found, per item (by item number) and per benchmark, for the report.</summary>
        public ShardHits Hits() => new(new SortedDictionary<int, ItemHits>(_hits), _benchmarkDocuments);

        public void Process(RecordBatch batch, DropCollector drops)
        {
            var counts = batch.ResetColumn<int>(MatchedColumn, batch.RowCount);
            var texts = batch.Texts;
            for (var row = 0; row < batch.RowCount; row++)
            {
                var text = texts[row];
                _ngrams.Tokenize(text, _tokens);
                _ngrams.Ngrams(_tokens, _hashes);
                _matched.Clear();
                _positions.Clear();
                var distinct = _distinct;
                distinct.Clear();
                for (var p = 0; p < _hashes.Count; p++)
                    foreach (var item in index.ItemsOf(_hashes[p]))
                    {
                        if (!_matched.TryGetValue(item, out var set)) _matched[item] = set = [];
                        set.Add(_hashes[p]);
                        distinct.Add(_hashes[p]);
                        _positions.Add((p, item));
                    }
                counts.Add(distinct.Count);
                if (_matched.Count == 0) continue;

                // The items that contaminate the document, the strongest first (most n-grams; ties by item number).
                var by = _matched.Where(m => Contaminates(m.Key, m.Value.Count))
                    .OrderByDescending(m => m.Value.Count).ThenBy(m => m.Key).Select(m => (Item: m.Key, Matched: m.Value.Count)).ToList();
                if (by.Count == 0) continue;
                Contaminated++;
                foreach (var (item, matched) in by)
                {
                    var fraction = (double)matched / index.Ngrams[item];
                    _hits[item] = _hits.TryGetValue(item, out var h)
                        ? new ItemHits(h.Documents + 1, Math.Max(h.MaxMatched, matched), Math.Max(h.MaxFraction, fraction))
                        : new ItemHits(1, matched, fraction);
                }
                foreach (var benchmark in by.Select(b => index.Benchmarks[b.Item]).Distinct()) _benchmarkDocuments[benchmark]++;
                var detail = Detail(by);
                if (spec.Mode == DecontaminateMode.Drop)
                {
                    drops.Drop(row, ContaminatedReason, detail);
                    continue;
                }
                var contaminating = by.Select(b => b.Item).ToHashSet();
                var (cut, spans) = WithoutSpans(text, _positions.Where(p => contaminating.Contains(p.Item)).Select(p => p.Position));
                SpansRemoved += spans;
                CharsRemoved += text.Length - cut.Length;
                texts[row] = cut;
                if (!cut.Any(char.IsLetterOrDigit)) drops.Drop(row, ContaminatedReason, $"{detail}; nothing left after removing {spans} spans");
            }
        }

        private bool Contaminates(int item, int matched) =>
            (spec.MinMatches is { } least && matched >= least) || (spec.MinFraction is { } share && matched >= share * index.Ngrams[item]);

        private string Detail(List<(int Item, int Matched)> by)
        {
            var (item, matched) = by[0];
            var name = spec.Benchmarks[index.Benchmarks[item]].Name;
            var detail = string.Create(CultureInfo.InvariantCulture,
                $"benchmark {name} item {index.Ids[item]}: {matched} of {index.Ngrams[item]} {spec.Ngram}-grams matched");
            return by.Count == 1 ? detail : string.Create(CultureInfo.InvariantCulture, $"{detail}; and {by.Count - 1} more items");
        }

        /// <summary>The text without the characters the n-grams at <paramref name="positions"/> cover (merged; one space left where words would join).</summary>
        private (string Text, int Spans) WithoutSpans(string text, IEnumerable<int> positions)
        {
            var spans = new List<(int Start, int End)>();
            foreach (var p in positions.Distinct().Order())
            {
                var (start, end) = (_tokens[p].Start, _tokens[p + spec.Ngram - 1].End);
                if (spans.Count > 0 && start <= spans[^1].End) spans[^1] = (spans[^1].Start, Math.Max(spans[^1].End, end));
                else spans.Add((start, end));
            }
            var result = new StringBuilder(text.Length);
            var position = 0;
            foreach (var (start, end) in spans)
            {
                result.Append(text, position, start - position);
                if (result.Length > 0 && !char.IsWhiteSpace(result[^1]) && end < text.Length && !char.IsWhiteSpace(text[end])) result.Append(' ');
                position = end;
            }
            result.Append(text, position, text.Length - position);
            return (result.ToString(), spans.Count);
        }
    }
}

/// <summary>What one match task found: per item, and contaminated documents per benchmark (by position in the spec).</summary>
public sealed record ShardHits(SortedDictionary<int, ItemHits> Items, long[] BenchmarkDocuments);

/// <summary>What one shard found of one item: contaminated documents, the most n-grams one shared, and that share of the item.</summary>
public sealed record ItemHits(long Documents, int MaxMatched, double MaxFraction);
