using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Training;

/// <summary>
/// Deterministic mixing of token files. A document's key is its source object, its input's number or the value of a
/// column; the key's weight w decides how many copies of the document are written: ⌊w⌋, plus one when
/// u(seed, id) &lt; w − ⌊w⌋, where u is the document's seeded hash mapped to [0, 1). Copies are whole documents and are
/// ordered by another seeded hash of (id, copy), so the order depends on the seed and the ids only — never on
/// arrival order, silo count or timing.
/// </summary>
public sealed class TokenMix
{
    public const string BySource = TokenMixKeys.Source;
    public const string ByInput = TokenMixKeys.Input;
    private const ulong SampleSalt = 0x5A4D_4958_5341_4D50UL;   // "ZMIXSAMP"
    private const ulong OrderSalt = 0x5A4D_4958_4F52_4452UL;    // "ZMIXORDR"

    private readonly MixSpec _spec;
    private readonly IReadOnlyDictionary<string, int> _inputOfSource;

    public TokenMix(MixSpec? spec, long jobSeed, IReadOnlyDictionary<string, int> inputOfSource)
    {
        _spec = spec ?? new MixSpec();
        Seed = unchecked((ulong)(_spec.Seed ?? jobSeed));
        _inputOfSource = inputOfSource;
    }

    public ulong Seed { get; }

    public string By => _spec.By;

    /// <summary>The column the key is read from, or null when it comes from the source (source, input).</summary>
    public string? KeyColumn => By is BySource or ByInput ? null : By;

    public string KeyOf(string source, string? columnValue) => By switch
    {
        BySource => source,
        ByInput => _inputOfSource.TryGetValue(source, out var input) ? input.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?",
        _ => columnValue ?? "",
    };

    /// <summary>With buckets: the label of the bucket a column value falls in (<c>&lt;e0</c>, <c>e0-e1</c>, …, <c>&gt;=eN</c>).</summary>
    public string BucketOf(double value)
    {
        var edges = _spec.Buckets ?? throw new InvalidOperationException("output.mix.buckets is not set.");
        static string F(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (double.IsNaN(value) || value < edges[0]) return "<" + F(edges[0]);
        for (var i = 1; i < edges.Count; i++)
            if (value < edges[i]) return $"{F(edges[i - 1])}-{F(edges[i])}";
        return ">=" + F(edges[^1]);
    }

    public bool Bucketed => _spec.Buckets is not null;

    public double WeightOf(string key) => _spec.Weights.TryGetValue(key, out var weight) ? weight : _spec.DefaultWeight;

    /// <summary>The column SoftDedup reads (semantic_dedup's max similarity), or null when it is off.</summary>
    public string? SoftDedupColumn => _spec.SoftDedup is null ? null : Stages.SemanticDedupStage.MaxSimilarityColumn;

    /// <summary>SoftDedup's multiplier of a document's weight: 1 up to τ, then max(floor, (1 − M) / (1 − τ)).</summary>
    public double SoftDedupFactor(double maxSimilarity) => _spec.SoftDedup is not { } soft || maxSimilarity <= soft.Threshold
        ? 1.0
        : Math.Max(soft.MinWeight, (1 - maxSimilarity) / (1 - soft.Threshold));

    /// <summary>How many times the document is written: ⌊w⌋ whole copies plus one more with probability w − ⌊w⌋ (by hash).</summary>
    public int Copies(string id, double weight)
    {
        var whole = (int)Math.Floor(weight);
        var fraction = weight - whole;
        return whole + (fraction > 0 && Uniform(StableRandom.KeyOf(id, Seed ^ SampleSalt)) < fraction ? 1 : 0);
    }

    /// <summary>The sort key of one copy of a document in the shuffled token file.</summary>
    public ulong OrderKey(string id, int copy) =>
        StableRandom.Mix(StableRandom.KeyOf(id, Seed ^ OrderSalt) + (ulong)copy * 0x9E3779B97F4A7C15UL);

    private static double Uniform(ulong hash) => (hash >> 11) * (1.0 / (1UL << 53));
}

/// <summary>The mixing keys that do not name a column.</summary>
public static class TokenMixKeys
{
    public const string Source = "source";
    public const string Input = "input";
}
