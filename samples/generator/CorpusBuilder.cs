namespace Curation.SampleGenerator;

/// <summary>A document of the corpus: an original or a planted one (then <see cref="Truth"/> says what it is).</summary>
public sealed class Doc(string text, string kind, string origin, string? title, string? package, string? licence = null)
{
    /// <summary>Debian paragraphs: the licence of the copyright stanza that covers the file it came from.</summary>
    public string? Licence { get; } = licence;
    public string Text { get; } = text;
    public string SourceKind { get; } = kind;
    public string Origin { get; } = origin;
    public string? Title { get; } = title;
    public string? Package { get; } = package;
    public string Id { get; set; } = "";
    public Truth? Truth { get; set; }
}

/// <summary>Ground truth of one planted document.</summary>
public sealed record Truth(string Kind, Doc? Of)
{
    public const string Exact = "exact";
    public const string WhitespaceCase = "whitespace_case";
    public const string Near = "near";
    public const string Chain = "chain";
    public const string LowQuality = "low_quality";

    public double? Jaccard { get; init; }
    public double? Target { get; init; }
    public Doc? Root { get; init; }
    public double? JaccardToRoot { get; init; }
    public int? ChainPosition { get; init; }
    public IReadOnlyList<string>? Transforms { get; init; }
    public IReadOnlyDictionary<string, int>? Edits { get; init; }
    public string? ExpectedReason { get; init; }
}

public sealed record CorpusPlan
{
    public int Originals { get; init; } = 1610;
    public int ExactCopies { get; init; } = 80;
    public int WhitespaceCase { get; init; } = 80;
    public int Near { get; init; } = 150;
    public int Chains { get; init; } = 10;
    public int LowQualityPerReason { get; init; } = 15;

    /// <summary>Near-duplicate target similarities and how many of each (sums to <see cref="Near"/>).</summary>
    public IReadOnlyList<(double Target, int Count)> NearLevels { get; init; } =
        [(0.95, 15), (0.90, 25), (0.85, 25), (0.80, 25), (0.75, 20), (0.70, 15), (0.60, 15), (0.50, 10)];

    /// <summary>Two paragraphs sharing this share of the smaller one's 5-grams are not both taken as originals.</summary>
    public double MaxContainmentBetweenOriginals { get; init; } = 0.2;

    /// <summary>Paragraphs with accented letters taken before the round-robin (material for NFD variants).</summary>
    public int AccentedFirst { get; init; } = 16;
}

public sealed class Corpus
{
    public required List<Doc> Originals { get; init; }
    public required List<Doc> Planted { get; init; }
    public required List<Doc> Ordered { get; init; }
    public required SortedDictionary<string, PackageLicence> Licences { get; init; }
    public required SortedDictionary<string, int> ParagraphsPerPackage { get; init; }
    public required int AbstractsRead { get; init; }
    public required int ParagraphCandidates { get; init; }
}

/// <summary>Picks the originals, plants the duplicates and low-quality documents, assigns ids and the order.</summary>
public sealed class CorpusBuilder(ulong seed, CorpusPlan plan)
{
    private readonly Rng _root = new(seed);

    public Corpus Build(List<SourceText> abstracts, List<SourceText> paragraphs, SortedDictionary<string, PackageLicence> licences, Action<string> log)
    {
        // 1. Originals: every abstract, then Debian paragraphs round-robin over packages (diversity), skipping any
        //    paragraph that shares 5-grams with one already taken (the same text ships in several packages/versions).
        var index = new ShingleIndex();
        var originals = new List<Doc>();
        foreach (var a in abstracts)
        {
            if (index.MaxContainment(TextTools.Shingles(a.Text)) >= plan.MaxContainmentBetweenOriginals) continue;
            index.Add(TextTools.Shingles(a.Text));
            originals.Add(new Doc(a.Text, a.Kind, a.Origin, a.Title, null));
        }
        var seen = new HashSet<string>(originals.Select(d => TextTools.Canonical(d.Text)), StringComparer.Ordinal);
        var byPackage = new SortedDictionary<string, Queue<SourceText>>(StringComparer.Ordinal);
        var selectRng = _root.Fork("select");
        foreach (var group in paragraphs.GroupBy(p => p.Package!).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var list = group.ToList();
            selectRng.Shuffle(list);
            byPackage[group.Key] = new Queue<SourceText>(list);
        }
        var leftovers = new List<SourceText>();
        var perPackage = new SortedDictionary<string, int>(StringComparer.Ordinal);
        bool TryTake(SourceText p)
        {
            var shingles = TextTools.Shingles(p.Text);
            if (!seen.Add(TextTools.Canonical(p.Text)) || index.MaxContainment(shingles) >= plan.MaxContainmentBetweenOriginals) return false;
            index.Add(shingles);
            originals.Add(new Doc(p.Text, p.Kind, p.Origin, null, p.Package, p.Licence));
            perPackage[p.Package!] = perPackage.GetValueOrDefault(p.Package!) + 1;
            return true;
        }
        // Accented letters are rare in this English text; take the paragraphs that have them first, so the NFD
        // variants have originals to work on.
        var accented = paragraphs.Where(p => TextTools.HasDecomposableLetters(p.Text)).OrderBy(p => p.Origin, StringComparer.Ordinal).ToList();
        var takenAccented = new HashSet<SourceText>(ReferenceEqualityComparer.Instance);
        foreach (var p in accented)
        {
            if (takenAccented.Count >= plan.AccentedFirst) break;
            if (TryTake(p)) takenAccented.Add(p);
        }
        log($"paragraphs with accented letters: {accented.Count}, taken first: {takenAccented.Count}");
        foreach (var queue in byPackage.Values)
        {
            var rest = queue.Where(p => !takenAccented.Contains(p)).ToList();
            queue.Clear();
            foreach (var p in rest) queue.Enqueue(p);
        }
        while (originals.Count < plan.Originals && byPackage.Values.Any(q => q.Count > 0))
        {
            foreach (var queue in byPackage.Values)
            {
                if (originals.Count >= plan.Originals) break;
                while (queue.Count > 0)
                {
                    var p = queue.Dequeue();
                    if (TryTake(p)) break;
                    leftovers.Add(p);
                }
            }
        }
        foreach (var queue in byPackage.Values) leftovers.AddRange(queue);
        if (originals.Count < plan.Originals) log($"warning: only {originals.Count} originals available (plan: {plan.Originals})");

        // Sentences from paragraphs NOT taken, sharing no 5-gram with any original: material for inserted sentences
        // and low-quality documents that does not tie a planted document to an unrelated original.
        var spare = new List<(string Package, string Sentence)>();
        var spareSeen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in leftovers.OrderBy(p => p.Origin, StringComparer.Ordinal))
        {
            foreach (var s in TextTools.Sentences(p.Text))
            {
                if (s.Length is < 40 or > 160 || !char.IsUpper(s[0]) || !s.EndsWith('.')) continue;
                if (s.Any(c => "()[]{}\"'`/\\<>=_#*".Contains(c))) continue;
                if (index.MaxContainment(TextTools.Shingles(s)) > 0 || !spareSeen.Add(s)) continue;
                spare.Add((p.Package!, s));
            }
        }
        var spareRng = _root.Fork("spare");
        spareRng.Shuffle(spare);
        // Half for sentences inserted into near duplicates (same package as the original, so the insertion reads
        // like a later revision of the text), half for low-quality documents.
        var fillers = spare.Take(spare.Count / 2).GroupBy(x => x.Package)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Sentence).ToList(), StringComparer.Ordinal);
        var lowQualitySentences = new Queue<string>(spare.Skip(spare.Count / 2).Select(x => x.Sentence));
        log($"originals: {originals.Count} ({originals.Count(d => d.SourceKind == SourceKinds.Abstract)} abstracts, {perPackage.Count} packages); spare sentences: {spare.Count}");

        // 2. Planted documents. Each original gets planted relatives of one kind only, so the truth stays simple.
        var planted = new List<Doc>();
        var variants = new Variants(_root.Fork("variants"), fillers);
        var pool = new List<Doc>(originals);
        _root.Fork("plant-pool").Shuffle(pool);
        var used = new HashSet<Doc>(ReferenceEqualityComparer.Instance);
        Doc? Take(Func<Doc, bool> eligible)
        {
            foreach (var d in pool)
                if (!used.Contains(d) && eligible(d)) { used.Add(d); return d; }
            return null;
        }
        static int WordCount(Doc d) => d.Text.Split(' ').Length;
        Doc Copy(Doc of, string text) => new(text, of.SourceKind, of.Origin, of.Title, of.Package);

        // Chains a ~ b ~ c: b is a near duplicate of a, c of b; c is further from a than either step.
        for (var chain = 0; chain < plan.Chains; chain++)
        {
            for (var attempt = 0; attempt < 50; attempt++)
            {
                var a = Take(d => WordCount(d) >= 90) ?? throw new InvalidOperationException("no original long enough for a chain");
                var isAbstract = a.SourceKind == SourceKinds.Abstract;
                var first = variants.Near(a.Text, isAbstract, a.Package, 0.80);
                if (first is null) continue;
                var b = Copy(a, first.Value.Text);
                var second = variants.Near(b.Text, isAbstract, a.Package, 0.80);
                if (second is null) continue;
                var c = Copy(a, second.Value.Text);
                var toRoot = TextTools.Jaccard(a.Text, c.Text);
                if (toRoot >= first.Value.Jaccard - 0.05) continue; // the edits overlapped: not a real chain
                b.Truth = new Truth(Truth.Chain, a) { Root = a, ChainPosition = 1, Jaccard = first.Value.Jaccard, JaccardToRoot = first.Value.Jaccard, Target = 0.80, Edits = first.Value.Edits };
                c.Truth = new Truth(Truth.Chain, b) { Root = a, ChainPosition = 2, Jaccard = second.Value.Jaccard, JaccardToRoot = toRoot, Target = 0.80, Edits = second.Value.Edits };
                planted.Add(b);
                planted.Add(c);
                break;
            }
        }

        // Near duplicates at controlled similarity levels.
        foreach (var (target, count) in plan.NearLevels)
        {
            for (var k = 0; k < count; k++)
            {
                for (var attempt = 0; ; attempt++)
                {
                    if (attempt > 50) throw new InvalidOperationException($"cannot plant a near duplicate at {target}");
                    var of = Take(d => WordCount(d) >= 60) ?? throw new InvalidOperationException("no original long enough for a near duplicate");
                    var near = variants.Near(of.Text, of.SourceKind == SourceKinds.Abstract, of.Package, target);
                    if (near is null) continue; // that original stays unused as a planted source
                    planted.Add(new Doc(near.Value.Text, of.SourceKind, of.Origin, of.Title, of.Package)
                    {
                        Truth = new Truth(Truth.Near, of) { Jaccard = near.Value.Jaccard, Target = target, Edits = near.Value.Edits },
                    });
                    break;
                }
            }
        }

        // Whitespace / case variants: each transform leads in turn, up to two more ride along.
        var nfdSources = new List<Doc>();
        var nfdUses = new Dictionary<Doc, int>(ReferenceEqualityComparer.Instance);
        for (var k = 0; k < plan.WhitespaceCase; k++)
        {
            var primary = Variants.WhitespaceCaseTransforms[k % Variants.WhitespaceCaseTransforms.Length];
            for (var attempt = 0; ; attempt++)
            {
                if (attempt > 200) throw new InvalidOperationException($"cannot plant a '{primary}' variant");
                var needsAccents = primary == "nfd";
                var of = Take(d => !needsAccents || TextTools.HasDecomposableLetters(d.Text));
                if (of is null && needsAccents)
                {
                    // Accented originals are few: give one a second or third variant rather than skip NFD.
                    of = nfdSources.Where(d => nfdUses[d] < 3).OrderBy(d => nfdUses[d]).FirstOrDefault();
                    if (of is null) { primary = "extra_spaces"; continue; }
                }
                if (of is null) throw new InvalidOperationException("no original left for a whitespace/case variant");
                var v = variants.WhitespaceCase(of.Text, primary);
                if (v is null) continue; // that original stays unplanted
                if (needsAccents && !nfdUses.ContainsKey(of)) { nfdSources.Add(of); nfdUses[of] = 0; }
                if (needsAccents) nfdUses[of]++;
                var doc = Copy(of, v.Value.Text);
                doc.Truth = new Truth(Truth.WhitespaceCase, of) { Transforms = v.Value.Transforms };
                planted.Add(doc);
                break;
            }
        }

        // Exact copies: mostly one copy of an original, sometimes two or three.
        var exactRng = _root.Fork("exact");
        for (var made = 0; made < plan.ExactCopies;)
        {
            var of = Take(_ => true) ?? throw new InvalidOperationException("no original left for an exact copy");
            var copies = exactRng.Chance(0.06) ? 3 : exactRng.Chance(0.16) ? 2 : 1;
            for (var c = 0; c < copies && made < plan.ExactCopies; c++, made++)
                planted.Add(new Doc(of.Text, of.SourceKind, of.Origin, of.Title, of.Package) { Truth = new Truth(Truth.Exact, of) });
        }

        // Low-quality documents, one failed check each (see the README for the thresholds they are built against).
        var lq = _root.Fork("low-quality");
        Doc Low(string text, string kind, string reason) => new(text, kind, "generated", null, null) { Truth = new Truth(Truth.LowQuality, null) { ExpectedReason = reason } };
        string NextSentence() => lowQualitySentences.Count > 0 ? lowQualitySentences.Dequeue() : throw new InvalidOperationException("out of spare sentences");
        for (var k = 0; k < plan.LowQualityPerReason; k++)
        {
            string? shortText;
            do { shortText = Variants.MakeTooShort(NextSentence()); } while (shortText is null);
            planted.Add(Low(shortText, SourceKinds.DebianDoc, Variants.TooShort));
            string? few;
            do { few = variants.MakeTooFewWords(NextSentence(), k); } while (few is null);
            planted.Add(Low(few, SourceKinds.DebianDoc, Variants.TooFewWords));
            string? soup;
            do { soup = variants.MakeSymbolSoup(NextSentence()); } while (soup is null);
            planted.Add(Low(soup, SourceKinds.DebianDoc, Variants.SymbolRatio));
            if (k % 4 == 0)
            {
                // The scrape's own page chrome, repeated: what a crawler collects from a paginated listing.
                planted.Add(Low(variants.MakeRepeatedLines(AbstractSource.Boilerplate[k / 4 % AbstractSource.Boilerplate.Count], k % 8 == 0 ? null : "Subscribe"), SourceKinds.Abstract, Variants.RepeatedLines));
            }
            else
            {
                var line = NextSentence();
                planted.Add(Low(variants.MakeRepeatedLines(line, lq.Chance(0.3) ? NextSentence() : null), SourceKinds.DebianDoc, Variants.RepeatedLines));
            }
        }

        // 3. Ids from one random permutation (a copy's id is as likely smaller than its original's as larger),
        //    order from another (duplicates are not adjacent and the files are not sorted by id).
        var all = new List<Doc>(originals);
        all.AddRange(planted);
        var numbers = Enumerable.Range(1, all.Count).ToList();
        _root.Fork("ids").Shuffle(numbers);
        for (var i = 0; i < all.Count; i++) all[i].Id = $"doc-{numbers[i]:D6}";
        var ordered = new List<Doc>(all);
        _root.Fork("order").Shuffle(ordered);

        return new Corpus
        {
            Originals = originals,
            Planted = planted,
            Ordered = ordered,
            Licences = new SortedDictionary<string, PackageLicence>(licences.Where(kv => perPackage.ContainsKey(kv.Key)).ToDictionary(), StringComparer.Ordinal),
            ParagraphsPerPackage = perPackage,
            AbstractsRead = abstracts.Count,
            ParagraphCandidates = paragraphs.Count,
        };
    }
}

/// <summary>Inverted index of word 5-grams: how much of a new text's shingle set an already-taken text holds.</summary>
public sealed class ShingleIndex
{
    private readonly Dictionary<string, List<int>> _postings = new(StringComparer.Ordinal);
    private readonly List<int> _sizes = [];

    public void Add(HashSet<string> shingles)
    {
        var id = _sizes.Count;
        _sizes.Add(shingles.Count);
        foreach (var s in shingles)
        {
            if (!_postings.TryGetValue(s, out var list)) _postings[s] = list = [];
            list.Add(id);
        }
    }

    /// <summary>Max over indexed texts of |A ∩ B| / min(|A|, |B|); 0 when nothing is shared.</summary>
    public double MaxContainment(HashSet<string> shingles)
    {
        var shared = new Dictionary<int, int>();
        foreach (var s in shingles)
            if (_postings.TryGetValue(s, out var list))
                foreach (var id in list) shared[id] = shared.GetValueOrDefault(id) + 1;
        var best = 0.0;
        foreach (var (id, count) in shared)
            best = Math.Max(best, count / (double)Math.Max(1, Math.Min(shingles.Count, _sizes[id])));
        return best;
    }
}
