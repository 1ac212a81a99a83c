using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Tests.Semantic;

public sealed class CascadeRoundsTests
{
    private const int Dims = 20;

    private static float[] Unit(float[] v)
    {
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    /// <summary>
    /// A hand-made cluster where the static tier ranks wrongly but a linear map learnt from a few transformer vectors ranks
    /// right. The static vector is the transformer's with axes 6–15 stretched 60× and axis 16 shrunk 50×. Members 0–19 are
    /// 10 truth pairs (2p, 2p + 1: the twin moved 0.03 along its own axis 6 + p, transformer cosine ≈ 0.9996, static ≈ 0.5);
    /// members 20–39 are 10 decoy pairs (moved 0.9 along axis 16: transformer ≈ 0.74, static ≈ 1); the rest is background
    /// on axes 0–5.
    /// </summary>
    private static (float[] Static, float[] Truth, int Members) Case(int background = 100)
    {
        var random = new StableRandom(17);
        float[] Background() => [.. Enumerable.Range(0, Dims).Select(i => i < 6 ? (float)(random.NextDouble() * 2 - 1) : 0)];
        var truth = new List<float[]>();
        for (var p = 0; p < 10; p++)
        {
            var a = Unit(Background());
            truth.Add(a);
            var twin = (float[])a.Clone();
            twin[6 + p] = 0.03f;
            truth.Add(Unit(twin));
        }
        for (var p = 0; p < 10; p++)
        {
            var c = Unit(Background());
            truth.Add(c);
            var decoy = (float[])c.Clone();
            decoy[16] = 0.9f;
            truth.Add(Unit(decoy));
        }
        for (var b = 0; b < background; b++) truth.Add(Unit(Background()));
        var stat = truth.Select(y => Unit([.. y.Select((v, i) => i is >= 6 and <= 15 ? 60 * v : i == 16 ? v / 50 : v)])).ToList();
        return ([.. stat.SelectMany(v => v)], [.. truth.SelectMany(v => v)], truth.Count);
    }

    private static Func<int[], float[]> LookUp(float[] truth, List<int[]> calls) => rows =>
    {
        calls.Add(rows);
        return [.. rows.SelectMany(r => truth.AsSpan(r * Dims, Dims).ToArray())];
    };

    private static double TruthPairRecall(int[] picks)
    {
        var picked = picks.ToHashSet();
        return Enumerable.Range(0, 10).Count(p => picked.Contains(2 * p) && picked.Contains(2 * p + 1)) / 10.0;
    }

    [Fact]
    public void The_hand_made_case_is_what_it_claims()
    {
        var (stat, truth, n) = Case();
        var ranking = Enumerable.Range(0, n).ToArray();
        var truthPairs = SemanticCascade.FindCandidates(truth, Dims, ranking, 0.01).Select(p => (p.Member, p.Earlier)).ToHashSet();
        Assert.Equal(Enumerable.Range(0, 10).Select(p => (2 * p + 1, 2 * p)).ToHashSet(), truthPairs);
        var staticScore = CascadeRounds.HighestCosine(stat, Dims, new bool[n]);
        Assert.All(Enumerable.Range(20, 20), m => Assert.True(staticScore[m] > 0.999f, $"decoy {m}: {staticScore[m]}"));
        Assert.All(Enumerable.Range(0, 10), p => Assert.True(staticScore[2 * p + 1] < staticScore.Skip(40).Max(), $"twin {2 * p + 1}"));
    }

    [Theory]
    [InlineData(RoundPredictor.Ridge, true)]
    [InlineData(RoundPredictor.Ridge, false)]
    [InlineData(RoundPredictor.RidgeKnn, true)]
    public void Rounds_that_learn_the_map_find_the_pairs_the_static_ranking_misses(RoundPredictor predictor, bool trueWhereKnown)
    {
        var (stat, truth, n) = Case();
        var oneRule = new CascadeRoundsSettings(0.35, 0.05, 0.05, RoundPredictor.None);
        var onePass = CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, oneRule);
        Assert.Equal(0.0, TruthPairRecall(onePass)); // the static tier spends the budget on the decoys and the background

        var rounds = CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims,
            oneRule with { Predictor = predictor, Lambda = 0.01, Neighbours = 3, TrueWhereKnown = trueWhereKnown });
        Assert.Equal(1.0, TruthPairRecall(rounds));
        Assert.Equal(onePass.Take(7), rounds.Take(7)); // round 1 is the static ranking's
    }

    [Theory]
    [InlineData(RoundPredictor.None, true, false)]
    [InlineData(RoundPredictor.Ridge, true, true)]
    [InlineData(RoundPredictor.Ridge, false, false)]
    [InlineData(RoundPredictor.RidgeKnn, true, true)]
    [InlineData(RoundPredictor.Knn, true, true)]
    public void Picks_are_deterministic_within_the_budget_and_each_member_is_embedded_once(RoundPredictor predictor, bool trueWhereKnown, bool refit)
    {
        var (stat, truth, n) = Case(background: 217);
        foreach (var (first, batch, budget) in new[] { (0.05, 0.05, 0.2), (0.025, 0.025, 0.2), (0.10, 0.03, 0.33), (0.3, 0.05, 0.2) })
        {
            var settings = new CascadeRoundsSettings(budget, first, batch, predictor, Lambda: 0.1, Refit: refit, Neighbours: 5, TrueWhereKnown: trueWhereKnown,
                StaticWeight: 0.25, Explore: 0.02);
            var calls = new List<int[]>();
            var picks = CascadeRounds.Pick(stat, Dims, LookUp(truth, calls), Dims, settings);
            var again = CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, settings);
            Assert.Equal(picks, again);
            Assert.Equal((int)Math.Floor(budget * n), picks.Length); // the whole budget, never more
            Assert.Equal(picks.Length, picks.Distinct().Count());
            var asked = calls.SelectMany(c => c).ToArray();
            Assert.Equal(picks.Order(), asked.Order()); // every pick embedded once, nothing else
            Assert.All(calls, c => Assert.Equal(c.Order(), c)); // each batch asked in ascending member order
        }
    }

    [Fact]
    public void Without_a_prediction_the_rounds_are_the_one_pass_static_ranking()
    {
        var (stat, truth, n) = Case();
        var staticScore = CascadeRounds.HighestCosine(stat, Dims, new bool[n]);
        var expected = Enumerable.Range(0, n).OrderByDescending(i => staticScore[i]).ThenBy(i => i).Take(n / 5).ToArray();
        Assert.Equal(expected, CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, new CascadeRoundsSettings(0.2, 0.05, 0.05, RoundPredictor.None)));
    }

    [Fact]
    public void The_map_reads_the_features_given_row_by_row_and_refuses_a_wrong_shape()
    {
        var (stat, truth, n) = Case();
        var settings = new CascadeRoundsSettings(0.35, 0.05, 0.05, RoundPredictor.Ridge, Lambda: 0.01);
        var plain = CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, settings);
        Assert.Equal(plain, CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, settings, stat, Dims));
        // Each static row joined with a block of zeros: a map input of twice the width that carries the same information.
        var wide = Enumerable.Range(0, n).SelectMany(r => stat.AsSpan(r * Dims, Dims).ToArray().Concat(new float[Dims])).ToArray();
        Assert.Equal(1.0, TruthPairRecall(CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, settings, wide, 2 * Dims)));
        Assert.Throws<ArgumentException>(() => CascadeRounds.Pick(stat, Dims, LookUp(truth, []), Dims, settings, wide, Dims + 1));
    }

    [Fact]
    public void A_verifier_that_returns_the_wrong_row_count_is_refused()
    {
        var (stat, _, _) = Case();
        Assert.Throws<InvalidOperationException>(() => CascadeRounds.Pick(stat, Dims, rows => new float[rows.Length * Dims - 1], Dims,
            new CascadeRoundsSettings(0.2, 0.05, 0.05, RoundPredictor.Ridge)));
    }
}
