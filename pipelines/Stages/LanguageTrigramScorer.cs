using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using System.Runtime.InteropServices;
using Lingua;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Lingua's answer for the texts it scores with trigrams only (every text of ≥ 120 cleaned characters in high-accuracy
/// mode, every text in low-accuracy mode): the same arithmetic over the same models, organised for speed. Lingua asks
/// each candidate language's model for each trigram of the text (and its bigram and unigram prefixes where the trigram
/// is unknown): ~45 Latin-script languages × ~300 trigrams × 1–3 lookups per document. This scorer holds one index of
/// every language's 1-, 2- and 3-gram log-probabilities keyed by n-gram (built once per process from Lingua's own model
/// files), so each trigram costs 1–3 lookups for all languages at once. Each language's sum adds the same logarithms in
/// the same order (the text's trigrams in first-occurrence order, as Lingua's insertion-ordered set), so
/// every probability, and so every answer and score, is bit-identical to Lingua's. Lingua's own text clean-up, word split
/// and script rules run unchanged (its internal methods, bound once by reflection to the pinned SearchPioneer.Lingua
/// 2.0.0; the first rule's per-word verdicts are remembered, then combined as Lingua combines them); texts of the
/// high-accuracy 1- to 5-gram path (under 120 characters) are left to Lingua itself.
/// <see cref="Available"/> is false (and the caller uses Lingua's public path) if a Lingua upgrade renamed what it binds.
/// </summary>
public sealed class LanguageTrigramScorer
{
    /// <summary>Lingua's length (in cleaned characters) from which high-accuracy mode scores trigrams only.</summary>
    public const int TrigramsOnlyFrom = 120;

    private const BindingFlags Static = BindingFlags.NonPublic | BindingFlags.Static;
    private const BindingFlags Member = BindingFlags.NonPublic | BindingFlags.Instance;

    private readonly Func<string, string> _cleanUp;
    private readonly Func<string, List<string>> _splitWords;
    private readonly Func<LanguageDetector, List<string>, HashSet<Language>, Language> _ruleLanguage;
    private readonly Func<LanguageDetector, List<string>, HashSet<Language>, HashSet<Language>> _ruleCandidates;
    private readonly Func<LanguageDetector, HashSet<Language>> _languagesOf;
    private readonly Language[] _languages;
    private readonly Dictionary<Language, int> _index;
    private readonly Dictionary<string, Entry[]>.AlternateLookup<ReadOnlySpan<char>>[] _ngrams;

    /// <summary>
    /// Lingua's script rule's verdict per word (a pure function of the word for an all-language detector), for the first
    /// <see cref="WordRuleCacheLimit"/> distinct words met: the rule walks every language's unique characters for every
    /// Latin, Cyrillic or Devanagari character, most of the work left once the trigrams are indexed.
    /// </summary>
    private readonly ConcurrentDictionary<string, Language> _wordRules = new(StringComparer.Ordinal);
    private int _wordRulesCount;

    /// <summary>Distinct words whose rule verdict is remembered (~100 bytes each): a bound on the cache's memory.</summary>
    public const int WordRuleCacheLimit = 500_000;

    /// <summary>One language's log-probability of one n-gram.</summary>
    private readonly record struct Entry(int Language, double LogProbability);

    /// <summary>What Lingua's values say: the first language of the highest value, that value, and whether another language ties it.</summary>
    public readonly record struct Best(Language Language, double Value, bool Tied);

    private LanguageTrigramScorer(Type detectorType)
    {
        _cleanUp = detectorType.GetMethod("CleanUpInputText", Static, [typeof(string)])!.CreateDelegate<Func<string, string>>();
        _splitWords = detectorType.GetMethod("SplitTextIntoWords", Static, [typeof(string)])!.CreateDelegate<Func<string, List<string>>>();
        _ruleLanguage = detectorType.GetMethod("DetectLanguageWithRules", Member, [typeof(List<string>), typeof(HashSet<Language>)])!
            .CreateDelegate<Func<LanguageDetector, List<string>, HashSet<Language>, Language>>();
        _ruleCandidates = detectorType.GetMethod("FilterLanguagesByRules", Member, [typeof(List<string>), typeof(HashSet<Language>)])!
            .CreateDelegate<Func<LanguageDetector, List<string>, HashSet<Language>, HashSet<Language>>>();
        var languagesField = detectorType.GetField("_languages", Member)!;
        _languagesOf = detector => (HashSet<Language>)languagesField.GetValue(detector)!;
        var directoryField = detectorType.GetField("_languageModelsDirectory", Member)!;
        var read = detectorType.GetMethod("ReadLanguageModel", Static, [typeof(Language), typeof(int), typeof(string)])!;

        var all = LanguageDetectorBuilder.FromAllLanguages().Build();
        var directory = (string)directoryField.GetValue(all)!;
        _languages = [.. _languagesOf(all).Order()];
        _index = _languages.Select((language, i) => (language, i)).ToDictionary(x => x.language, x => x.i);
        _ngrams = new Dictionary<string, Entry[]>.AlternateLookup<ReadOnlySpan<char>>[3];
        for (var n = 1; n <= 3; n++)
        {
            // Read straight from Lingua's model files, not through its cache: the models are garbage once indexed, and
            // Lingua's cache fills only with what its own path (short texts) asks for.
            var models = _languages.Select(language => (FrozenDictionary<string, double>)read.Invoke(null, [language, n, directory])!).ToArray();
            var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var model in models)
                foreach (var (ngram, probability) in model)
                    if (probability > 0) CollectionsMarshal.GetValueRefOrAddDefault(sizes, ngram, out _)++; // Lingua takes logs of positive ones only
            var index = new Dictionary<string, Entry[]>(sizes.Count, StringComparer.Ordinal);
            foreach (var (ngram, size) in sizes) index[ngram] = new Entry[size];
            sizes.Clear();
            for (var l = 0; l < models.Length; l++)
                foreach (var (ngram, probability) in models[l])
                    if (probability > 0) index[ngram][CollectionsMarshal.GetValueRefOrAddDefault(sizes, ngram, out _)++] = new Entry(l, Math.Log(probability));
            _ngrams[n - 1] = index.GetAlternateLookup<ReadOnlySpan<char>>();
        }
    }

    private static readonly Lazy<LanguageTrigramScorer?> SharedScorer = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The process's scorer (built on first use: the time Lingua takes to read every 1–3-gram model), or null when it cannot bind to Lingua.</summary>
    public static LanguageTrigramScorer? Shared => SharedScorer.Value;

    /// <summary>Whether the pinned Lingua exposes what the scorer binds to (false: callers fall back to Lingua's public path).</summary>
    public static bool Available => SharedScorer.Value is not null;

    private static LanguageTrigramScorer? Create()
    {
        try
        {
            return new LanguageTrigramScorer(typeof(LanguageDetector));
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentException or MissingMemberException or InvalidCastException or TargetInvocationException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lingua's best language for <paramref name="text"/> as <paramref name="detector"/> (built from all languages,
    /// low-accuracy mode or not as <paramref name="lowAccuracy"/> says) would compute it; false when the text takes
    /// Lingua's high-accuracy 1- to 5-gram path, which the caller leaves to Lingua.
    /// </summary>
    public bool TryScore(LanguageDetector detector, string text, bool lowAccuracy, out Best best)
    {
        best = default;
        var cleaned = _cleanUp(text);
        if (cleaned.Length == 0 || !HasLetter(cleaned)) return true; // every value 0
        if (!lowAccuracy && cleaned.Length < TrigramsOnlyFrom) return false;
        var languages = _languagesOf(detector);
        var words = _splitWords(cleaned);
        var ruled = languages.Count == _languages.Length ? RuleLanguage(detector, words, languages) : _ruleLanguage(detector, words, languages);
        if (ruled != Language.Unknown)
        {
            best = new Best(ruled, 1, false);
            return true;
        }
        var candidates = _ruleCandidates(detector, words, languages);
        if (candidates.Count == 1)
        {
            best = new Best(candidates.Single(), 1, false);
            return true;
        }
        if (cleaned.Length < 3) return true; // low accuracy: every value 0
        best = ScoreTrigrams(cleaned, candidates);
        return true;
    }

    /// <summary>
    /// Lingua's script rule over the words: each word's verdict (a language, or unknown), unknown dropped when under half
    /// the words; none left: unknown; one: it; Chinese and Japanese: Japanese; else the most frequent verdict, unknown on a tie.
    /// </summary>
    private Language RuleLanguage(LanguageDetector detector, List<string> words, HashSet<Language> languages)
    {
        var counts = new Dictionary<Language, int>();
        foreach (var word in words)
        {
            if (!_wordRules.TryGetValue(word, out var verdict))
            {
                verdict = _ruleLanguage(detector, [word], languages); // one word: its own verdict
                if (Volatile.Read(ref _wordRulesCount) < WordRuleCacheLimit && _wordRules.TryAdd(word, verdict))
                    Interlocked.Increment(ref _wordRulesCount);
            }
            CollectionsMarshal.GetValueRefOrAddDefault(counts, verdict, out _)++;
        }
        if (counts.GetValueOrDefault(Language.Unknown) < 0.5 * words.Count) counts.Remove(Language.Unknown);
        switch (counts.Count)
        {
            case 0: return Language.Unknown;
            case 1: return counts.Keys.Single();
            case 2 when counts.ContainsKey(Language.Chinese) && counts.ContainsKey(Language.Japanese): return Language.Japanese;
        }
        var top = counts.MaxBy(c => c.Value);
        return counts.Count(c => c.Value == top.Value) > 1 ? Language.Unknown : top.Key;
    }

    private Best ScoreTrigrams(string cleaned, HashSet<Language> candidates)
    {
        var count = _languages.Length;
        Span<double> sums = stackalloc double[count];
        Span<int> doneAt = stackalloc int[count];
        Span<bool> candidate = stackalloc bool[count];
        sums.Clear();
        doneAt.Clear();
        candidate.Clear();
        foreach (var language in candidates) candidate[_index[language]] = true;

        // The text's distinct trigrams (within runs of letters) in order of first occurrence, each once.
        var seen = new HashSet<string>(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        var span = cleaned.AsSpan();
        var stamp = 0;
        for (var i = 0; i < span.Length;)
        {
            if (!char.IsLetter(span[i]))
            {
                i++;
                continue;
            }
            var start = i;
            while (i < span.Length && char.IsLetter(span[i])) i++;
            for (var j = start; j + 3 <= i; j++)
            {
                var trigram = span.Slice(j, 3);
                if (!seen.Add(trigram)) continue;
                stamp++;
                var pending = candidates.Count;
                for (var n = 3; n >= 1 && pending > 0; n--)
                {
                    if (!_ngrams[n - 1].TryGetValue(trigram[..n], out var entries)) continue;
                    foreach (var entry in entries)
                    {
                        if (!candidate[entry.Language] || doneAt[entry.Language] == stamp) continue;
                        sums[entry.Language] += entry.LogProbability;
                        doneAt[entry.Language] = stamp;
                        pending--;
                    }
                }
            }
        }

        // Lingua's reading of the sums: candidates in its set's order; exp of each non-zero sum; normalised by their
        // total, or, when every exp underflows to 0, 1 for the first language of the largest sum.
        var total = 0.0;
        var any = false;
        Language? firstLargestSum = null;
        var largestSum = double.NegativeInfinity;
        foreach (var language in candidates)
        {
            var sum = sums[_index[language]];
            if (sum >= 0) continue; // Lingua keeps only negative sums (0: no n-gram known)
            any = true;
            total += Math.Exp(sum);
            if (sum > largestSum)
            {
                largestSum = sum;
                firstLargestSum = language;
            }
        }
        if (!any) return default;
        if (total == 0) return new Best(firstLargestSum!.Value, 1, false);
        var bestValue = double.NegativeInfinity;
        Language bestLanguage = default;
        var tied = false;
        foreach (var language in candidates)
        {
            var sum = sums[_index[language]];
            if (sum >= 0) continue;
            var value = Math.Exp(sum) / total;
            if (value > bestValue)
            {
                bestValue = value;
                bestLanguage = language;
                tied = false;
            }
            else if (value == bestValue) tied = true;
        }
        return new Best(bestLanguage, bestValue, tied);
    }

    private static bool HasLetter(string text)
    {
        foreach (var c in text)
            if (char.IsLetter(c)) return true;
        return false;
    }
}
