using System.Diagnostics;
using System.Security.Cryptography;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Embedding.Static;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Semantic;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;

namespace Curation.Bench;

/// <summary>
/// <c>cascade</c>: how much of the transformer's semantic dedup the static tier and the two-tier cascade keep, on the
/// demo corpus and on a real corpus of Debian documentation paragraphs (<see cref="DebianDocsCorpus"/>). Truth: the
/// transformer's brute-force pairs (each document against every earlier one, documents in corpus order, one cluster)
/// at cosine ≥ 1 − eps, and the documents SemDeDup removes with them (R). The static tier is cut at the threshold that
/// removes the same number of documents (matched removal count, i.e. the same targetKeepFraction); the cascade takes
/// the static pairs at a looser threshold as candidates, embeds only their documents with the transformer and keeps the
/// pairs the transformer confirms at 1 − eps (<see cref="SemanticCascade"/>). Pair recall = |found ∩ truth| / |truth|,
/// precision = |found ∩ truth| / |found|.
/// </summary>
public static class CascadeBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var services = StageServices.CreateDefault();
        var transformer = await services.Embedding.GetAsync(new ModelSpec());
        var distilled = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.Static });
        var inputMean = await services.Embedding.GetStaticAsync(new ModelSpec { Kind = ModelKind.InputMean });
        var embedder = new BatchEmbedder(transformer.Embedder, new EmbedStage(0, new EmbedStageSpec()).BatchOptions);
        var tokenizer = transformer.Tokenizer;

        var demo = EmbedWorkload.FromDemoCorpus(EmbedWorkload.FindDemoCorpus(), Path.Combine(Path.GetTempPath(), $"curation-cascade-{Guid.NewGuid():N}"), int.MaxValue, tokenizer);
        try { Directory.Delete(demo.Folder, recursive: true); } catch (IOException) { }
        var build = Stopwatch.StartNew();
        var (debIds, debTexts, debFiles) = DebianDocsCorpus.Build(options.CascadeDocs);
        var (manTexts, manFiles) = options.ManDocs > 0 ? ManPagesCorpus.Build(options.ManDocs) : ([], 0);
        Console.WriteLine($"corpora:  demo: {demo.Documents:N0} documents of samples/corpus; debian-docs: {debTexts.Count:N0} paragraphs of {debFiles:N0} files under {DebianDocsCorpus.Root}; " +
                          $"man-pages: {manTexts.Count:N0} paragraphs of {manFiles:N0} pages under {ManPagesCorpus.Root} (built in {build.Elapsed.TotalSeconds:0.0} s)");
        var modelOptions = EmbeddingRuntime.ModelOptionsOf(new ModelSpec(), new EmbeddingRuntimeOptions());
        var modelSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes((await ModelFiles.ResolveAsync(modelOptions)).ModelPath)));
        var failures = new List<string>();
        // A job runs exact_dedup before semantic_dedup: exact repeats (case-folded) are left out of both corpora.
        var demoTexts = demo.Texts.DistinctBy(t => t.ToLowerInvariant()).ToList();
        // The static table is fitted on the demo corpus (StaticTrainingText): the real corpora are scored on their part
        // disjoint from it (no paragraph of a Debian package the training text quotes, no text equal to a training text).
        var packages = StaticTrainingText.DebianPackages();
        var debKeep = HeldOutRows(debTexts, debIds);
        var manKeep = HeldOutRows(manTexts, null);
        var (debHeldOut, manHeldOut) = (debKeep.Count(k => k), manKeep.Count(k => k));
        Console.WriteLine($"held out from the static table's training text (the demo corpus): debian-docs {debHeldOut:N0} of {debTexts.Count:N0} paragraphs " +
                          $"(none of its {packages.Count} Debian packages, no equal text), man-pages {manHeldOut:N0} of {manTexts.Count:N0}; the demo rows are in-sample");
        // Before/after in the same run: the shipped table before its fit (v2's bytes), from the per-token pass.
        modelOptions.Normalize = true;
        var files = await ModelFiles.ResolveAsync(modelOptions);
        var raw = StaticRecipesBenchmark.RawPass(() => new OnnxEmbedder(files.ModelPath, tokenizer.SpecialTokens, modelOptions), tokenizer.VocabularySize, modelSha);
        var unfitted = StaticModelStore.Finish(raw, raw.Length / tokenizer.VocabularySize, tokenizer.VocabularySize, new StaticDistillSettings(distilled.Table.Dimensions), out _);
        var sources = new List<(string, IReadOnlyList<string>, bool[]?)> { ("demo", demoTexts, null), ("debian-docs", debTexts, debKeep) };
        if (manHeldOut > 1) sources.Add(("man-pages", manTexts, manKeep));
        foreach (var (name, all, keep) in sources)
        {
            var allTokens = new ReadOnlyMemory<int>[all.Count];
            Parallel.For(0, all.Count, i => allTokens[i] = tokenizer.Tokenize(all[i]));
            var watch = Stopwatch.StartNew();
            // The transformer's vectors of the whole corpus, cached with static-recipes' (the same key): a cached run times nothing on that side.
            var (allTruth, cached) = (Array.Empty<float>(), false);
            if (all.Count >= 2) allTruth = StaticRecipesBenchmark.CachedTruth(name, all, allTokens, embedder, modelSha, out cached);
            var transformerSeconds = watch.Elapsed.TotalSeconds;
            var rows = Enumerable.Range(0, all.Count).Where(i => keep is null || keep[i]).ToArray();
            var texts = rows.Select(i => all[i]).ToList();
            var tokens = rows.Select(i => allTokens[i]).ToArray();
            var truthVectors = new float[rows.Length * embedder.Dimensions];
            for (var r = 0; r < rows.Length; r++) allTruth.AsSpan(rows[r] * embedder.Dimensions, embedder.Dimensions).CopyTo(truthVectors.AsSpan(r * embedder.Dimensions));
            Console.WriteLine();
            Console.WriteLine($"--- corpus: {name} ({texts.Count:N0} documents{(keep is null ? ", in-sample: the static table's training text" : $" held out of {all.Count:N0}")}) ---");
            if (texts.Count < 2) { failures.Add($"{name}: no documents"); continue; }
            watch.Restart();
            var staticVectors = new float[texts.Count * distilled.Table.Dimensions];
            distilled.Table.EmbedMany(tokens, staticVectors, new bool[texts.Count], options.Threads);
            var staticSeconds = watch.Elapsed.TotalSeconds;
            var meanVectors = new float[texts.Count * inputMean.Table.Dimensions];
            inputMean.Table.EmbedMany(tokens, meanVectors, new bool[texts.Count], options.Threads);
            Console.WriteLine($"embedded: transformer {(cached ? "(cached vectors, not timed)" : $"{all.Count / transformerSeconds:N1} docs/s ({transformerSeconds:0.0} s)")}, static {texts.Count / staticSeconds:N0} docs/s " +
                              $"({staticSeconds:0.000} s, tokenizing included on both), {Machine.Load()}");
            failures.AddRange(Evaluate($"{name} [static v{StaticModelStore.RecipeVersion}, shipped]", texts.Count, truthVectors, embedder.Dimensions, staticVectors,
                distilled.Table.Dimensions, meanVectors, inputMean.Table.Dimensions));
            var unfittedVectors = new float[texts.Count * unfitted.Dimensions];
            unfitted.EmbedMany(tokens, unfittedVectors, new bool[texts.Count], options.Threads);
            Console.WriteLine("the same with the table before its fit (v2):");
            Evaluate($"{name} [static v2, before the fit]", texts.Count, truthVectors, embedder.Dimensions, unfittedVectors, unfitted.Dimensions,
                meanVectors, inputMean.Table.Dimensions);
        }
        foreach (var failure in failures) Console.WriteLine($"MISSED: {failure}");
        return 0;
    }

    private static List<string> Evaluate(string corpus, int n, float[] truth, int truthDims, float[] stat, int statDims, float[] mean, int meanDims)
    {
        var failures = new List<string>();
        var (pairsMet, setMet, settingsRun) = (0, 0, 0);
        var ranking = Enumerable.Range(0, n).ToArray();
        var truthM = SemDeDup.ComputeMaxSimilarity(truth, truthDims, ranking).MaxSimilarity.ToArray();
        var staticM = SemDeDup.ComputeMaxSimilarity(stat, statDims, ranking).MaxSimilarity.ToArray();
        var meanM = SemDeDup.ComputeMaxSimilarity(mean, meanDims, ranking).MaxSimilarity.ToArray();
        var staticSorted = staticM.OrderDescending().ToArray();
        var meanSorted = meanM.OrderDescending().ToArray();
        var truthSorted = truthM.OrderDescending().ToArray();

        var settings = new List<(string Label, double Eps)>
        {
            ("eps 0.01", 0.01), ("eps 0.05", 0.05),
            ("keep 0.90", KeepEps(truthSorted, 0.90)), ("keep 0.95", KeepEps(truthSorted, 0.95)),
        };
        Console.WriteLine("columns:  R = documents the transformer removes; static/input_mean cut at the same R; cascade candidates at a looser " +
                          "static threshold (the static M of the k·R-th document), embedded = documents the transformer embedded");
        foreach (var (label, eps) in settings)
        {
            var truthPairs = Pairs(SemanticCascade.FindCandidates(truth, truthDims, ranking, eps));
            var removed = truthM.Count(m => SemDeDup.IsDuplicate(m, eps));
            if (removed == 0 || truthPairs.Count == 0)
            {
                Console.WriteLine($"{label,-10} truth: no pairs (R = 0): nothing to compare");
                continue;
            }
            // Feasibility bound: a document in no truth pair never needs the transformer, one in a truth pair must be
            // embedded for that pair to be found, so recall 0.97 needs about this fraction embedded whatever the rule.
            var inTruth = truthPairs.SelectMany(p => new[] { p.Item1, p.Item2 }).Distinct().Count();
            var feasible = (double)inTruth / n;
            Console.WriteLine($"{label,-10} feasibility: {inTruth:N0} documents ({feasible:P1}) are in at least one truth pair" +
                              (feasible > 0.2 ? " (> 20 %: recall 0.97 within 20 % embedded may be INFEASIBLE for any candidate rule)" : ""));
            var staticPairs = Pairs(SemanticCascade.FindCandidates(stat, statDims, ranking, 1 - staticSorted[removed - 1]));
            var meanPairs = Pairs(SemanticCascade.FindCandidates(mean, meanDims, ranking, 1 - meanSorted[removed - 1]));
            var (sr, sp) = Score(staticPairs, truthPairs);
            var (mr, mp) = Score(meanPairs, truthPairs);
            Console.WriteLine($"{label,-10} eps {eps:0.0000}: truth {truthPairs.Count:N0} pairs, R = {removed:N0} ({(double)removed / n:P1}); " +
                              $"static recall {sr:0.000} precision {sp:0.000} ({staticPairs.Count:N0} pairs); input_mean recall {mr:0.000} precision {mp:0.000}");
            if (sr < 0.8) failures.Add($"{corpus} {label}: static recall {sr:0.000} < 0.8");
            var met = false;
            settingsRun++;
            // The transformer's vectors of the rows the cascade asks for (the truth run's: identical, only the count matters).
            float[] LookUp(int[] rows)
            {
                var vectors = new float[rows.Length * truthDims];
                for (var i = 0; i < rows.Length; i++) truth.AsSpan(rows[i] * truthDims, truthDims).CopyTo(vectors.AsSpan(i * truthDims));
                return vectors;
            }
            foreach (var k in new[] { 1.1, 1.25, 1.5, 2, 3, 5, 8 })
            {
                var index = Math.Min(n - 1, (int)Math.Ceiling(k * removed) - 1);
                var candidateEps = 1 - staticSorted[index];
                var candidates = SemanticCascade.FindCandidates(stat, statDims, ranking, candidateEps);
                var result = SemanticCascade.Verify(n, candidates, LookUp, truthDims, eps);
                var (cr, cp) = Score(Pairs(result.Verified), truthPairs);
                var cascadeRemoved = result.MaxSimilarity.Count(m => SemDeDup.IsDuplicate(m, eps));
                var embedded = (double)result.Embedded.Length / n;
                Console.WriteLine($"           cascade k {k,3}: candidate eps {candidateEps:0.0000} ({candidates.Count:N0} pairs), embedded {result.Embedded.Length:N0} = {embedded:P1}; " +
                                  $"recall {cr:0.000} precision {cp:0.000}; removes {cascadeRemoved:N0} of R {removed:N0}");
                met |= cr >= 0.97 && cp >= 0.97 && embedded <= 0.2;
            }
            // The stage's budget rule (verify.budget 0.2, candidateEps at its default): the loosest threshold that embeds ≤ 20 %,
            // the transformer deciding the candidate pairs (rule pairs) or every pair among their documents (rule set).
            foreach (var rule in new[] { VerifyRule.Pairs, VerifyRule.Set })
            {
                var floorEps = new SemanticVerifySpec { Budget = 0.2 }.CandidateEpsFor(eps);
                var budgetEps = SemanticCascade.BudgetEps(stat, statDims, ranking, staticM, floorEps, 0.2);
                var candidates = budgetEps < 0 ? new List<CandidatePair>() : SemanticCascade.FindCandidates(stat, statDims, ranking, budgetEps);
                var result = rule == VerifyRule.Set
                    ? SemanticCascade.VerifySet(n, candidates, new int[n], LookUp, truthDims, eps)
                    : SemanticCascade.Verify(n, candidates, LookUp, truthDims, eps);
                var (cr, cp) = Score(Pairs(result.Verified), truthPairs);
                var embedded = (double)result.Embedded.Length / n;
                Console.WriteLine($"           cascade budget 0.2, rule {rule.ToString().ToLowerInvariant(),-5}: candidate eps {budgetEps:0.0000} (default {floorEps:0.0000}), embedded {result.Embedded.Length:N0} = {embedded:P1}; " +
                                  $"recall {cr:0.000} precision {cp:0.000}");
                met |= cr >= 0.97 && cp >= 0.97 && embedded <= 0.2;
                if (rule == VerifyRule.Set) setMet += cr >= 0.97 && cp >= 0.97 && embedded <= 0.2 ? 1 : 0;
                if (rule == VerifyRule.Pairs) pairsMet += cr >= 0.97 && cp >= 0.97 && embedded <= 0.2 ? 1 : 0;
            }
            if (!met) failures.Add($"{corpus} {label}: no candidate threshold gave cascade recall ≥ 0.97, precision ≥ 0.97 with ≤ 20 % embedded" +
                                   (feasible > 0.2 ? $" (infeasible: {feasible:P1} of the documents are in truth pairs)" : $" (feasible: {feasible:P1} in truth pairs, missed)"));
        }
        Console.WriteLine($"{corpus}: the stage's budget 0.2 met the cascade goal (recall ≥ 0.97, precision ≥ 0.97, ≤ 20 % embedded) in {pairsMet} of {settingsRun} settings " +
                          $"with rule pairs, {setMet} of {settingsRun} with rule set");
        return failures;
    }

    /// <summary>
    /// The rows of <paramref name="texts"/> held out from the static table's training text (<see cref="StaticTrainingText"/>):
    /// no text equal to a training text (case-folded) and, for Debian paragraphs (<paramref name="debianIds"/>
    /// "package/…"), none of a Debian package the training text quotes.
    /// </summary>
    internal static bool[] HeldOutRows(IReadOnlyList<string> texts, IReadOnlyList<string>? debianIds)
    {
        var training = StaticTrainingText.Documents.Select(d => d.Text.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var packages = debianIds is null ? null : StaticTrainingText.DebianPackages();
        return texts.Select((t, i) => !training.Contains(t.ToLowerInvariant()) && (packages is null || !packages.Contains(debianIds![i].Split('/')[0]))).ToArray();
    }

    /// <summary>
    /// The eps at which the transformer keeps <paramref name="keep"/> of the documents: midway between the M values either
    /// side of the cut, so float rounding between kernels does not move a document across it.
    /// </summary>
    internal static double KeepEps(float[] sortedDescending, double keep)
    {
        var removed = Math.Max(1, (int)Math.Round((1 - keep) * sortedDescending.Length));
        return 1 - (sortedDescending[removed - 1] + (double)sortedDescending[Math.Min(removed, sortedDescending.Length - 1)]) / 2;
    }

    internal static HashSet<(int, int)> Pairs(IEnumerable<CandidatePair> pairs) => pairs.Select(p => (p.Member, p.Earlier)).ToHashSet();

    internal static (double Recall, double Precision) Score(HashSet<(int, int)> found, HashSet<(int, int)> truth)
    {
        var hit = found.Count(truth.Contains);
        return (truth.Count == 0 ? 1 : (double)hit / truth.Count, found.Count == 0 ? 1 : (double)hit / found.Count);
    }
}
