using System.Globalization;
using Curation.Pipelines.Spec;

namespace Curation.Pipelines.NearDup;

/// <summary>
/// How similar two documents are as near_dedup sees them: the MinHash estimate (the stage's shingles, permutations and the
/// job's seed — the number its verify step compares with the threshold) and the exact Jaccard of the shingle sets. The
/// drop explorer shows it next to a near duplicate and its twin.
/// </summary>
public static class PairSimilarity
{
    public sealed record Result(double Estimated, double Exact, int Permutations)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"Jaccard {Estimated:0.###} estimated ({Permutations} MinHash permutations), {Exact:0.###} exact");
    }

    public static Result Of(NearDedupStageSpec spec, long seed, string a, string b)
    {
        var shingler = new Shingler(spec);
        var hasher = new MinHasher(spec.Bands, spec.Rows, seed);
        var scratch = new List<ulong>();
        var setA = shingler.ShingleSet(a, scratch);
        var setB = shingler.ShingleSet(b, scratch);
        var signatureA = new uint[hasher.Permutations];
        var signatureB = new uint[hasher.Permutations];
        hasher.Signature(setA, signatureA);
        hasher.Signature(setB, signatureB);
        return new Result(MinHasher.Estimate(signatureA, signatureB), MinHasher.Exact(setA, setB), hasher.Permutations);
    }
}
