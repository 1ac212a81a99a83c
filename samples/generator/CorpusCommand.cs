using System.Globalization;
using System.Text;

namespace Curation.SampleGenerator;

public static class CorpusCommand
{
    public static bool Run(string outDir, ulong seed, string abstractsPath, string docRoot, int parts)
    {
        void Log(string s) => Console.WriteLine(s);
        var abstracts = AbstractSource.Read(abstractsPath);
        var (paragraphs, licences) = DebianDocSource.Read(docRoot);
        Log($"sources: {abstracts.Count} abstracts; {paragraphs.Count} prose paragraphs from {licences.Count} packages");
        foreach (var (why, n) in DebianDocSource.Rejections) Log($"  not taken: {why}: {n}");

        var plan = new CorpusPlan();
        var corpus = new CorpusBuilder(seed, plan).Build(abstracts, paragraphs, licences, Log);
        var problems = Verify(corpus);
        foreach (var p in problems) Console.Error.WriteLine("CHECK FAILED: " + p);
        if (problems.Count > 0) return false;

        // Parts of equal size, in the shuffled order.
        var corpusDir = Path.Combine(outDir, "corpus");
        if (Directory.Exists(corpusDir))
            foreach (var old in Directory.GetFiles(corpusDir, "part-*.jsonl*")) File.Delete(old);
        var perPart = (corpus.Ordered.Count + parts - 1) / parts;
        for (var p = 0; p < parts; p++)
        {
            var slice = corpus.Ordered.Skip(p * perPart).Take(perPart);
            JsonLines.WriteFile(Path.Combine(corpusDir, $"part-{p:D4}.jsonl"), slice.Select(d => JsonLines.Record(w => JsonLines.WriteDocument(w, d))));
        }
        var truth = corpus.Planted.OrderBy(d => d.Id, StringComparer.Ordinal).Select(d => (d.Truth!.Kind, Line: JsonLines.Record(w => JsonLines.WriteTruth(w, d)))).ToList();
        JsonLines.WriteFile(Path.Combine(outDir, "corpus.truth.jsonl"), truth.Select(t => t.Line));
        var examples = new[] { Truth.Exact, Truth.WhitespaceCase, Truth.Near, Truth.Chain, Truth.LowQuality }
            .Select(k => Encoding.UTF8.GetString(truth.First(t => t.Kind == k).Line).TrimEnd('\n')).ToList();

        var stats = Stats.From(corpus, parts, perPart);
        JsonLines.WriteText(Path.Combine(outDir, "README.md"), Docs.CorpusReadme(stats, seed, examples));
        JsonLines.WriteText(Path.Combine(outDir, "LICENSE-corpus.md"), Docs.LicenceNotes(corpus, abstractsPath));
        Log(stats.Summary());
        return true;
    }

    /// <summary>Proves the truth file right before anything is written.</summary>
    public static List<string> Verify(Corpus corpus)
    {
        var problems = new List<string>();
        var all = corpus.Ordered;
        var groupOf = new Dictionary<Doc, Doc>(ReferenceEqualityComparer.Instance); // doc -> its original (chain: root)
        foreach (var d in corpus.Originals) groupOf[d] = d;
        foreach (var d in corpus.Planted.Where(d => d.Truth!.Kind != Truth.LowQuality))
            groupOf[d] = d.Truth!.Root ?? d.Truth.Of!;

        // Ids unique.
        if (all.Select(d => d.Id).Distinct().Count() != all.Count) problems.Add("duplicate ids");

        // Canonical (normalised, case-folded, whitespace-collapsed) groups are exactly original + exact + whitespace_case.
        foreach (var g in all.Where(d => d.Truth?.Kind != Truth.LowQuality).GroupBy(d => TextTools.Canonical(d.Text)))
        {
            var members = g.ToList();
            var roots = members.Select(m => groupOf[m]).Distinct(ReferenceEqualityComparer.Instance).Count();
            if (roots > 1) problems.Add($"canonical text shared across groups: {string.Join(", ", members.Select(m => m.Id))}");
            if (members.Count < 2) continue;
            foreach (var m in members.Where(m => m.Truth is not null))
                if (m.Truth!.Kind is not (Truth.Exact or Truth.WhitespaceCase)) problems.Add($"{m.Id}: {m.Truth.Kind} equals its original after normalisation");
        }
        foreach (var d in corpus.Planted.Where(d => d.Truth!.Kind is Truth.Exact or Truth.WhitespaceCase))
        {
            if (TextTools.Canonical(d.Text) != TextTools.Canonical(d.Truth!.Of!.Text)) problems.Add($"{d.Id}: does not normalise to its original");
            if (TextTools.Canonical(d.Text, upper: true) != TextTools.Canonical(d.Truth.Of!.Text, upper: true)) problems.Add($"{d.Id}: differs from its original when case is folded to upper");
            if (d.Truth.Kind == Truth.Exact && d.Text != d.Truth.Of!.Text) problems.Add($"{d.Id}: exact copy differs");
            if (d.Truth.Kind == Truth.WhitespaceCase && d.Text == d.Truth.Of!.Text) problems.Add($"{d.Id}: variant identical to original");
        }

        // Recorded similarities are the real ones.
        foreach (var d in corpus.Planted.Where(d => d.Truth!.Jaccard is not null))
        {
            var j = TextTools.Jaccard(d.Text, d.Truth!.Of!.Text);
            if (Math.Abs(j - d.Truth.Jaccard!.Value) > 1e-9) problems.Add($"{d.Id}: recorded jaccard {d.Truth.Jaccard} but {j}");
            if (d.Truth.Root is not null && Math.Abs(TextTools.Jaccard(d.Text, d.Truth.Root.Text) - d.Truth.JaccardToRoot!.Value) > 1e-9)
                problems.Add($"{d.Id}: jaccard_to_root wrong");
        }

        // No document shares 5-grams (containment >= 0.2 or jaccard >= 0.2) with a document of another group.
        var index = new Dictionary<string, List<Doc>>(StringComparer.Ordinal);
        var shingles = new Dictionary<Doc, HashSet<string>>(ReferenceEqualityComparer.Instance);
        foreach (var d in all) shingles[d] = TextTools.Shingles(d.Text);
        foreach (var d in all.Where(d => d.Truth?.Kind != Truth.LowQuality))
            foreach (var s in shingles[d])
            {
                if (!index.TryGetValue(s, out var list)) index[s] = list = [];
                list.Add(d);
            }
        var worstCross = 0.0;
        foreach (var d in all.Where(d => d.Truth?.Kind != Truth.LowQuality))
        {
            var shared = new Dictionary<Doc, int>(ReferenceEqualityComparer.Instance);
            foreach (var s in shingles[d])
                foreach (var o in index[s])
                    if (!ReferenceEquals(o, d)) shared[o] = shared.GetValueOrDefault(o) + 1;
            foreach (var (o, n) in shared)
            {
                if (ReferenceEquals(groupOf[o], groupOf[d])) continue;
                var containment = n / (double)Math.Min(shingles[d].Count, shingles[o].Count);
                worstCross = Math.Max(worstCross, containment);
                if (containment >= 0.2) problems.Add($"{d.Id} and {o.Id} (different groups) share {containment:P0} of 5-grams");
            }
        }
        Console.WriteLine($"verify: largest 5-gram containment between documents of different groups: {worstCross:F3}");

        // Quality: low-quality documents fail exactly their labelled check; every other document passes all.
        foreach (var d in all)
            foreach (var minWords in new[] { 5, 8 })
            {
                var failures = QualityReference.Failures(d.Text, minWords);
                if (d.Truth?.Kind == Truth.LowQuality)
                {
                    if (failures.Count != 1 || failures[0] != d.Truth.ExpectedReason)
                        problems.Add($"{d.Id} (min_words {minWords}): expected only {d.Truth.ExpectedReason}, got [{string.Join(", ", failures)}]: {d.Text[..Math.Min(60, d.Text.Length)]}");
                }
                else if (failures.Count > 0) problems.Add($"{d.Id} ({d.Truth?.Kind ?? "original"}, min_words {minWords}) fails quality checks: {string.Join(", ", failures)}");
            }
        return problems;
    }
}

public sealed record Stats
{
    public int Total { get; init; }
    public int Originals { get; init; }
    public int OriginalAbstracts { get; init; }
    public int OriginalDebian { get; init; }
    public int Packages { get; init; }
    public required SortedDictionary<string, int> PlantedByKind { get; init; }
    public required SortedDictionary<string, int> LowQualityByReason { get; init; }
    public required SortedDictionary<string, int> TransformCounts { get; init; }
    public required List<(double Target, int Count, double Min, double Max)> NearLevels { get; init; }
    public required List<(string B, string C, double Ab, double Bc, double Ac)> Chains { get; init; }
    public int ExactOriginals { get; init; }
    public int ExactLargestGroup { get; init; }
    public int CopySmallerId { get; init; }
    public int CopiesWithOf { get; init; }
    public int Parts { get; init; }
    public int PerPart { get; init; }
    public int ChainDocs { get; init; }
    public int AfterQuality { get; init; }
    public int AfterExact { get; init; }
    public int AfterExactWithoutZeroWidthRule { get; init; }

    public static Stats From(Corpus c, int parts, int perPart)
    {
        var planted = c.Planted;
        var byKind = new SortedDictionary<string, int>(planted.GroupBy(d => d.Truth!.Kind).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);
        var reasons = new SortedDictionary<string, int>(planted.Where(d => d.Truth!.ExpectedReason is not null).GroupBy(d => d.Truth!.ExpectedReason!).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);
        var transforms = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in planted.Where(d => d.Truth!.Transforms is not null).SelectMany(d => d.Truth!.Transforms!)) transforms[t] = transforms.GetValueOrDefault(t) + 1;
        var near = planted.Where(d => d.Truth!.Kind == Truth.Near).GroupBy(d => d.Truth!.Target!.Value).OrderByDescending(g => g.Key)
            .Select(g => (g.Key, g.Count(), g.Min(d => d.Truth!.Jaccard!.Value), g.Max(d => d.Truth!.Jaccard!.Value))).ToList();
        var chains = planted.Where(d => d.Truth!.Kind == Truth.Chain && d.Truth.ChainPosition == 2)
            .Select(cdoc => (cdoc.Truth!.Of!.Id, cdoc.Id, cdoc.Truth.Of!.Truth!.Jaccard!.Value, cdoc.Truth.Jaccard!.Value, cdoc.Truth.JaccardToRoot!.Value)).ToList();
        var exact = planted.Where(d => d.Truth!.Kind == Truth.Exact).GroupBy(d => d.Truth!.Of!).ToList();
        var withOf = planted.Where(d => d.Truth!.Of is not null).ToList();
        var lowQuality = planted.Count(d => d.Truth!.Kind == Truth.LowQuality);
        var exactAndCase = planted.Count(d => d.Truth!.Kind is Truth.Exact or Truth.WhitespaceCase);
        var zeroWidthOnly = planted.Count(d => d.Truth!.Kind == Truth.WhitespaceCase && d.Truth.Transforms!.Contains("zero_width"));
        return new Stats
        {
            Total = c.Ordered.Count,
            Originals = c.Originals.Count,
            OriginalAbstracts = c.Originals.Count(d => d.SourceKind == SourceKinds.Abstract),
            OriginalDebian = c.Originals.Count(d => d.SourceKind == SourceKinds.DebianDoc),
            Packages = c.ParagraphsPerPackage.Count,
            PlantedByKind = byKind,
            LowQualityByReason = reasons,
            TransformCounts = transforms,
            NearLevels = near,
            Chains = chains,
            ExactOriginals = exact.Count,
            ExactLargestGroup = exact.Count == 0 ? 0 : exact.Max(g => g.Count()) + 1,
            CopySmallerId = withOf.Count(d => string.CompareOrdinal(d.Id, d.Truth!.Of!.Id) < 0),
            CopiesWithOf = withOf.Count,
            Parts = parts,
            PerPart = perPart,
            ChainDocs = byKind.GetValueOrDefault(Truth.Chain),
            AfterQuality = c.Ordered.Count - lowQuality,
            AfterExact = c.Ordered.Count - lowQuality - exactAndCase,
            AfterExactWithoutZeroWidthRule = c.Ordered.Count - lowQuality - exactAndCase + zeroWidthOnly,
        };
    }

    public string Summary()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"documents: {Total} = {Originals} originals ({OriginalAbstracts} abstracts, {OriginalDebian} Debian paragraphs from {Packages} packages) + {Total - Originals} planted");
        foreach (var (k, n) in PlantedByKind) sb.AppendLine(CultureInfo.InvariantCulture, $"  {k}: {n}");
        foreach (var (k, n) in LowQualityByReason) sb.AppendLine(CultureInfo.InvariantCulture, $"    {k}: {n}");
        foreach (var (k, n) in TransformCounts) sb.AppendLine(CultureInfo.InvariantCulture, $"    transform {k}: {n}");
        foreach (var l in NearLevels) sb.AppendLine(CultureInfo.InvariantCulture, $"    near target {l.Target:F2}: {l.Count} (actual {l.Min:F3}..{l.Max:F3})");
        foreach (var ch in Chains) sb.AppendLine(CultureInfo.InvariantCulture, $"    chain ..{ch.B}..{ch.C}: a~b {ch.Ab:F3}, b~c {ch.Bc:F3}, a~c {ch.Ac:F3}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"planted documents with a smaller id than their 'of': {CopySmallerId}/{CopiesWithOf}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"after quality filter: {AfterQuality}; after exact dedup (casefold + collapsed whitespace): {AfterExact}");
        return sb.ToString();
    }
}
