using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// gopher_repetition made fast (issue 20) gives the answers it gave before: every measure, decision, reason, detail and
/// what-if value of <see cref="GopherRepetitionTransform"/> equals <see cref="ReferenceGopherRepetition"/> (the
/// pre-change string-based logic) on real text in Chinese, Japanese, Thai, Arabic, Russian and English, on repetitive
/// variants of it, and on documents built to sit exactly on each threshold.
/// </summary>
public sealed class GopherRepetitionReferenceTests(ITestOutputHelper output)
{
    private static readonly string[] Locales = ["zh_CN", "ja", "th", "ar", "ru"];

    /// <summary>Real documents per script (message catalogs; English: the demo corpus) and the multilingual mix.</summary>
    private static IReadOnlyList<string> RealTexts()
    {
        var texts = new List<string>();
        foreach (var locale in Locales)
        {
            var catalog = MultilingualCorpus.MessageCatalogs(perDocument: 8, locale).Take(150).Select(d => d.Text).ToList();
            Assert.True(catalog.Count >= 50, $"expected installed {locale} message catalogs, found {catalog.Count} documents");
            texts.AddRange(catalog);
        }
        texts.AddRange(MultilingualCorpus.Build(maxDocuments: 1_500).Select(d => d.Text));
        return texts;
    }

    /// <summary>A text and variants that repeat parts of it, so that every rule fires somewhere.</summary>
    private static IEnumerable<string> WithVariants(string text)
    {
        yield return text;
        yield return text + "\n\n" + text;
        yield return text + "\n" + text;
        var firstLine = text.Split('\n')[0];
        yield return string.Join('\n', Enumerable.Repeat(firstLine, 3).Append(text));
        var piece = text[..Math.Min(text.Length, 24)];
        yield return string.Join(' ', Enumerable.Repeat(piece, 6)) + " " + text;
        yield return text[..(text.Length / 2)] + " " + text[..(text.Length / 3)] + "\n\n\n" + text[(text.Length / 3)..];
    }

    [Fact]
    public void Every_measure_equals_the_reference_on_real_text_in_every_script()
    {
        var slices = new SliceCounts();
        var grams = new WordNGrams();
        var tokens = new List<Word>();
        int[] sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 18, 20, 21, 24, 27, 30];
        var documents = 0;
        long nonZero = 0;
        foreach (var text in RealTexts().SelectMany(WithVariants))
        {
            documents++;
            Assert.Equal(ReferenceGopherRepetition.Paragraphs(text), Repetition.Paragraphs(text, slices));
            Assert.Equal(ReferenceGopherRepetition.Lines(text), Repetition.Lines(text, slices));
            var (words, glued) = ReferenceGopherRepetition.WordsOf(text);
            Words.Split(text, tokens);
            grams.Load(text, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens));
            Assert.Equal(words.Count, grams.Count);
            foreach (var n in sizes)
            {
                var top = ReferenceGopherRepetition.TopNGramChars(words, n, glued);
                var duplicated = ReferenceGopherRepetition.DuplicatedNGramChars(words, n);
                Assert.True(top == grams.TopNGramChars(n), $"top {n}-gram of {Show(text)}");
                Assert.True(duplicated == grams.DuplicatedNGramChars(n), $"duplicated {n}-grams of {Show(text)}");
                if (duplicated > 0) nonZero++;
            }
        }
        output.WriteLine($"{documents} documents, {nonZero} non-zero duplicated n-gram measures");
        Assert.True(nonZero > documents, "the variants should repeat n-grams");
    }

    [Fact]
    public void Every_decision_reason_detail_and_what_if_measure_equals_the_reference()
    {
        var texts = RealTexts().SelectMany(WithVariants).Append("").Append("\n\n\n").Append("   ").ToArray();
        var spec = new GopherRepetitionStageSpec();
        var ours = new GopherRepetitionTransform(spec);
        var reference = new ReferenceGopherRepetition(spec);
        foreach (var text in texts)
            Assert.True(reference.Check(text) == ours.Check(text), $"{reference.Check(text)} vs {ours.Check(text)} for {Show(text)}");

        var batch = RecordBatch.ForDocuments(texts.Length);
        for (var i = 0; i < texts.Length; i++) batch.AddDocument($"d{i}", texts[i], "test", i);
        DropCollector oursDrops = new(batch, spec.Type), referenceDrops = new(batch, spec.Type);
        ours.Process(batch, oursDrops);
        reference.Process(batch, referenceDrops);
        Assert.Equal(referenceDrops.KeptRows(), oursDrops.KeptRows());
        Dictionary<string, long> oursReasons = [], referenceReasons = [];
        oursDrops.CountReasons(oursReasons);
        referenceDrops.CountReasons(referenceReasons);
        Assert.Equal(referenceReasons.OrderBy(r => r.Key, StringComparer.Ordinal), oursReasons.OrderBy(r => r.Key, StringComparer.Ordinal));
        Dictionary<string, double> oursMeasures = [], referenceMeasures = [];
        oursDrops.AddMeasures(oursMeasures);
        referenceDrops.AddMeasures(referenceMeasures);
        Assert.NotEmpty(referenceMeasures);
        Assert.Equal(referenceMeasures.OrderBy(m => m.Key, StringComparer.Ordinal), oursMeasures.OrderBy(m => m.Key, StringComparer.Ordinal));
        output.WriteLine($"{texts.Length} documents, {texts.Length - oursDrops.KeptRows().Count} dropped: " +
                         string.Join(", ", oursReasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} {r.Value}")));
        // Every rule of the default spec fires somewhere in this corpus.
        foreach (var reason in new[] { GopherRepetitionTransform.DupParaFrac, GopherRepetitionTransform.DupParaCharFrac, GopherRepetitionTransform.DupLineFrac,
                                       GopherRepetitionTransform.DupLineCharFrac, GopherRepetitionTransform.TopNGram(2), GopherRepetitionTransform.DuplicatedNGrams(5) })
            Assert.True(oursReasons.ContainsKey(reason), $"no document dropped for {reason}");
    }

    /// <summary>
    /// A family of documents whose measured value for one rule falls as a filler word grows by one character at a time
    /// (the other numbers of the measure fixed), so one member sits exactly on the threshold: it passes that rule, the
    /// member one character shorter fails it, and the stage answers as the reference on all of them.
    /// </summary>
    private sealed record Family(string Name, string Reason, double Max, Func<int, int, string> Make, Func<string, double> Measure);

    private static IEnumerable<Family> Families()
    {
        // Sentences of the demo corpus (English), in file order.
        var englishLines = Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadLines).Take(200)
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!)
            .SelectMany(text => text.Split(new[] { '\n', '.' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct().ToList();
        var shortLines = englishLines.Where(l => l.Length is >= 20 and <= 40).Take(12).ToList();
        var longLines = englishLines.Where(l => l.Length is >= 60 and <= 80).Take(4).ToList();
        Assert.True(shortLines.Count == 12 && longLines.Count == 4, $"the demo corpus should have short and long sentences: {englishLines.Count} sentences, {shortLines.Count} short, {longLines.Count} long");
        var repeatedPara = longLines[0] + " " + longLines[1];
        var repeatedLine = longLines[2] + " " + longLines[3];
        string Catalog(string locale, string newline) => string.Concat(MultilingualCorpus.MessageCatalogs(8, locale).Take(40).Select(d => d.Text)).Replace("\n", newline);
        var chinese = Catalog("zh_CN", "，");
        var thai = Catalog("th", " ");
        string Filler(int k) => new('x', 8 + k);
        static double Frac((int Elements, int Duplicates, long Chars) m, bool chars, string text) => chars ? m.Chars / (double)text.Length : m.Duplicates / (double)m.Elements;

        // Paragraphs: 7 distinct, then 3 (or 4) copies of a short one; count on its edge, characters far under.
        yield return new("paragraph count", GopherRepetitionTransform.DupParaFrac, 0.3,
            (j, k) => string.Join("\n\n", shortLines.Take(7 - j).Append("ok").Concat(Enumerable.Repeat("ok", 3 + (k % 2)))),
            t => Frac(ReferenceGopherRepetition.Paragraphs(t), false, t));
        // Paragraph characters: one repeated paragraph of six.
        yield return new("paragraph characters", GopherRepetitionTransform.DupParaCharFrac, 0.2,
            (j, k) => string.Join("\n\n", [repeatedPara + new string('y', j), shortLines[0], shortLines[1], shortLines[2], Filler(k), repeatedPara + new string('y', j)]),
            t => Frac(ReferenceGopherRepetition.Paragraphs(t), true, t));
        // Lines: one paragraph of 7 distinct lines and 3 (or 4) copies of a short one.
        yield return new("line count", GopherRepetitionTransform.DupLineFrac, 0.3,
            (j, k) => string.Join('\n', shortLines.Skip(4).Take(7 - j).Append("ok").Concat(Enumerable.Repeat("ok", 3 + (k % 2)))),
            t => Frac(ReferenceGopherRepetition.Lines(t), false, t));
        yield return new("line characters", GopherRepetitionTransform.DupLineCharFrac, 0.2,
            (j, k) => string.Join('\n', [repeatedLine + new string('y', j), shortLines[3], shortLines[4], shortLines[5], Filler(k), repeatedLine + new string('y', j)]),
            t => Frac(ReferenceGopherRepetition.Lines(t), true, t));
        // The top 2-gram repeated c times among real English words.
        yield return new("top 2-gram", GopherRepetitionTransform.TopNGram(2), 0.2,
            (j, k) => shortLines[9] + " " + string.Join(' ', Enumerable.Repeat("sunny garden", 6 + j)) + " " + Filler(k),
            t => TopGram(t, 2));
        // Ten distinct words twice among real English words (a 5-word phrase twice would fail the top 3-gram first).
        var phrase = "breeze cobalt dune ember fjord glacier harbor island jungle";
        yield return new("duplicated 5-grams", GopherRepetitionTransform.DuplicatedNGrams(5), 0.15,
            (j, k) => $"{shortLines[10]} amber{new string('q', j)} {phrase} {shortLines[11]} amber{new string('q', j)} {phrase} {Filler(k)}",
            t => DuplicatedGrams(t, 5));
        // Chinese (2 units per word): a 4-character gram repeated, real Chinese text around it.
        yield return new("Chinese top 2-gram", GopherRepetitionTransform.TopNGram(2), 0.2,
            (j, k) => chinese[..(60 + j * 7)] + string.Concat(Enumerable.Repeat("花园晴天", 8)) + " " + Filler(k),
            t => TopGram(t, 2));
        yield return new("Chinese duplicated 5-grams", GopherRepetitionTransform.DuplicatedNGrams(5), 0.15,
            (j, k) => chinese[..80] + "。" + chinese.Substring(200, 90 + j) + "。" + chinese.Substring(400, 40) + "。" + chinese.Substring(200, 90 + j) + " " + Filler(k),
            t => DuplicatedGrams(t, 5));
        // Thai (3 clusters per word): 30 words of real Thai (two 15-cluster grams) repeated; j moves the run by a word.
        var thaiWords = new List<Word>();
        Words.Split(thai, thaiWords);
        // Runs whose words hold a multiple of 3 characters: X / 0.15 is then a whole length.
        var starts = Enumerable.Range(100, 200).Where(a => Enumerable.Range(a, 30).Sum(w => thaiWords[w].Length) % 3 == 0).ToList();
        string ThaiRun(int j) => thai[thaiWords[starts[j]].Start..thaiWords[starts[j] + 29].End];
        yield return new("Thai duplicated 5-grams", GopherRepetitionTransform.DuplicatedNGrams(5), 0.15,
            (j, k) => thai[..120] + " " + ThaiRun(j) + " " + thai.Substring(500, 60) + " " + ThaiRun(j) + " " + Filler(k),
            t => DuplicatedGrams(t, 5));
    }

    private static double TopGram(string text, int n)
    {
        var (words, glued) = ReferenceGopherRepetition.WordsOf(text);
        return ReferenceGopherRepetition.TopNGramChars(words, n * Scripts.UnitsPerWord(Scripts.Dominant(text)), glued) / (double)text.Length;
    }

    private static double DuplicatedGrams(string text, int n)
    {
        var (words, _) = ReferenceGopherRepetition.WordsOf(text);
        return ReferenceGopherRepetition.DuplicatedNGramChars(words, n * Scripts.UnitsPerWord(Scripts.Dominant(text))) / (double)text.Length;
    }

    [Fact]
    public void Documents_exactly_on_each_threshold_pass_it_and_one_character_less_fails_it()
    {
        var ours = new GopherRepetitionTransform(new());
        var reference = new ReferenceGopherRepetition(new());
        foreach (var family in Families())
        {
            int hits = 0, neighbours = 0;
            for (var j = 0; j < 6; j++)
            {
                // The filler only lengthens the text: measured(k) = X / (L0 + k), so the edge is near k = X / max - L0.
                var first = family.Make(j, 0);
                var edge = (int)Math.Round(Math.Round(family.Measure(first) * first.Length) / family.Max) - first.Length;
                foreach (var k in Enumerable.Range(0, 24).Concat(Enumerable.Range(edge - 2, 5)).Where(k => k >= 0).Distinct())
                {
                    var text = family.Make(j, k);
                    Assert.True(reference.Check(text) == ours.Check(text), $"{family.Name}: {reference.Check(text)} vs {ours.Check(text)} for {Show(text)}");
                    if (family.Measure(text) != family.Max) continue;
                    hits++;
                    Assert.NotEqual(family.Reason, ours.Check(text)?.Reason);
                    if (k == 0) continue;
                    // The member before it measures above the threshold (one character shorter, or the count rule's extra
                    // copy): it fails this rule, the first in datatrove's order to fail.
                    var before = family.Make(j, k - 1);
                    Assert.True(family.Measure(before) > family.Max, $"{family.Name}: {family.Measure(before)} before the edge");
                    Assert.Equal(family.Reason, ours.Check(before)?.Reason);
                    Assert.True(reference.Check(before) == ours.Check(before));
                    neighbours++;
                }
            }
            output.WriteLine($"{family.Name}: {hits} documents exactly on {family.Reason} = {family.Max}, {neighbours} checked beside one");
            Assert.True(neighbours > 0, $"{family.Name}: no document sits exactly on {family.Max} after one above it");
        }
    }

    private static string Show(string text) => text.Length <= 80 ? $"'{text}'" : $"'{text[..80]}…' ({text.Length} chars)";
}
