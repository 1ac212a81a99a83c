using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Text;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The published rule sets against their definitions: hand-made documents just inside and just outside each threshold,
/// and agreement with a transcription of datatrove's filters (tests/pipelines/Stages/rule_oracle.py, run by python3) on
/// seeded generated text.
/// </summary>
public sealed class RuleSetParityTests(ITestOutputHelper output)
{
    private static readonly string[] Vocabulary =
        ["the", "house", "and", "garden", "with", "flowers", "of", "summer", "river", "to", "quiet", "that", "have", "bright",
         "morning", "be", "village", "people", "walked", "across", "bridge", "under", "stars", "stories", "evening"];

    /// <summary>n distinct-enough words from the vocabulary (mean length about 5, stop words included).</summary>
    private static string Prose(int n, int offset = 0) =>
        string.Join(' ', Enumerable.Range(offset, n).Select(i => Vocabulary[(i * 7 + i / Vocabulary.Length) % Vocabulary.Length] + (i % 5 == 4 ? i.ToString() : "")));

    private static string? Gopher(string text, GopherQualityStageSpec? spec = null) => new GopherQualityTransform(spec ?? new()).Check(text, null)?.Reason;

    [Fact]
    public void Gopher_quality_thresholds_at_their_edges()
    {
        Assert.Null(Gopher(Prose(50)));
        Assert.Equal(GopherQualityTransform.ShortDoc, Gopher(Prose(49)));
        Assert.Equal(GopherQualityTransform.LongDoc, Gopher(Prose(60), new() { MaxDocWords = 59 }));

        // # tokens count among the words: 11 of 111 ≤ 0.1, 12 of 112 > 0.1.
        Assert.Null(Gopher(Prose(100) + string.Concat(Enumerable.Repeat(" #", 11))));
        Assert.Equal(GopherQualityTransform.TooManyHashes, Gopher(Prose(100) + string.Concat(Enumerable.Repeat(" #", 12))));

        string Lines(int total, int marked, Func<string, string> mark) =>
            string.Join('\n', Enumerable.Range(0, total).Select(i => i < marked ? mark(Prose(10, i * 10)) : Prose(10, i * 10)));
        Assert.Null(Gopher(Lines(10, 3, l => l + "...")));
        Assert.Equal(GopherQualityTransform.TooManyEndEllipsis, Gopher(Lines(10, 4, l => l + "…")));
        Assert.Null(Gopher(Lines(10, 9, l => "- " + l)));
        Assert.Equal(GopherQualityTransform.TooManyBullets, Gopher(Lines(10, 10, l => "• " + l)));

        // Words with a letter: 100 of 125 = 0.8 passes, 100 of 126 fails.
        Assert.Null(Gopher(Prose(100) + string.Concat(Enumerable.Repeat(" 1234", 25))));
        Assert.Equal(GopherQualityTransform.BelowAlphaThreshold, Gopher(Prose(100) + string.Concat(Enumerable.Repeat(" 1234", 26))));

        // Mean word length: exactly 3 passes, just under fails; 10 passes, just over fails.
        Assert.Null(Gopher("the and " + string.Join(' ', Enumerable.Repeat("cat", 60))));
        Assert.Equal(GopherQualityTransform.BelowAvgWordLength, Gopher("the and to " + string.Join(' ', Enumerable.Repeat("cat", 60))));
        Assert.Equal(GopherQualityTransform.AboveAvgWordLength, Gopher("the and " + string.Join(' ', Enumerable.Repeat("abcdefghijk", 60))));

        // Two distinct stop words pass, one fails (case and all, as datatrove matches).
        var noStops = string.Join(' ', Enumerable.Repeat("garden flowers summer", 20));
        Assert.Null(Gopher("the and " + noStops));
        Assert.Equal(GopherQualityTransform.NotEnoughStopWords, Gopher("the the The And " + noStops));
        // A language column picks the list: German words pass with "de", fail as English.
        var german = "der Garten und die Blumen im Sommer " + string.Join(' ', Enumerable.Repeat("Garten Blumen Sommer Fluss", 12));
        Assert.Null(new GopherQualityTransform(new()).Check(german, "de"));
        Assert.Equal(GopherQualityTransform.NotEnoughStopWords, new GopherQualityTransform(new()).Check(german, null)?.Reason);
        // The spec's language is read as a column's is: "deu", "DE" and "de-AT" pick the German list (the stop-word rule
        // was skipped for them), and a language without a list is refused rather than the rule silently switched off.
        foreach (var code in new[] { "deu", "DE", "de-AT" })
        {
            Assert.Null(new GopherQualityTransform(new() { Language = code }).Check(german, null));
            Assert.Equal(GopherQualityTransform.NotEnoughStopWords, new GopherQualityTransform(new() { Language = code }).Check("the and " + noStops, null)?.Reason);
        }
        var spec = JobSpec.Parse("""{"name": "g", "inputs": [{"path": "c/*.jsonl"}], "stages": [{"type": "gopher_quality", "language": "xx"}], "output": {"path": "o"}}""");
        var error = Assert.Single(JobSpecValidator.Validate(spec));
        Assert.Equal("stages[0].language", error.Field);
        Assert.StartsWith("'xx' has no stop-word list (there are: de, en, es, ", error.Message, StringComparison.Ordinal);
        Assert.Empty(JobSpecValidator.Validate(spec with { Stages = [new GopherQualityStageSpec { Language = "xx", MinStopWords = null }] }));
        Assert.Empty(JobSpecValidator.Validate(spec with { Stages = [new GopherQualityStageSpec { Language = "xx", StopWords = ["och", "att"] }] }));
    }

    [Fact]
    public void Gopher_repetition_thresholds_at_their_edges()
    {
        string? Check(string text) => new GopherRepetitionTransform(new()).Check(text)?.Reason;
        string Distinct(int i) => Prose(12, i * 12);
        // 3 repeated short lines of 10 = 0.3 passes, 4 of 11 fails (their characters stay far under 0.2).
        var six = Enumerable.Range(0, 6).Select(Distinct).ToList();
        Assert.Null(Check(string.Join('\n', six.Concat(Enumerable.Repeat("ok", 4)))));
        Assert.Equal(GopherRepetitionTransform.DupLineFrac, Check(string.Join('\n', six.Concat(Enumerable.Repeat("ok", 5)))));
        // Paragraphs: one repeated of 4 = 0.25 passes on count but not on characters; a short one repeated passes both.
        Assert.Equal(GopherRepetitionTransform.DupParaCharFrac, Check(string.Join("\n\n", [Distinct(0), Distinct(1), Distinct(2), Distinct(0)])));
        Assert.Equal(GopherRepetitionTransform.DupParaFrac, Check(string.Join("\n\n", [Distinct(0), "ok", "ok"])));
        // One 2-gram over a fifth of the text.
        Assert.Equal(GopherRepetitionTransform.TopNGram(2), Check(Distinct(0) + " " + string.Join(' ', Enumerable.Repeat("sunny garden", 12))));
        Assert.Null(Check(string.Join(' ', Enumerable.Range(0, 8).Select(Distinct))));
    }

    [Fact]
    public void C4_line_rules_remove_lines_and_page_rules_drop_pages()
    {
        var c4 = new C4Transform(new());
        string Sentence(int i) => $"The {Vocabulary[i % 25]} {Vocabulary[(i + 3) % 25]} walked home.";
        var five = string.Join('\n', Enumerable.Range(0, 5).Select(Sentence));
        Assert.Null(c4.Apply(five).Drop);
        Assert.Equal(C4Transform.TooFewSentences, c4.Apply(string.Join('\n', Enumerable.Range(0, 4).Select(Sentence))).Drop?.Reason);
        // Five sentences on one line count as five.
        Assert.Null(c4.Apply(string.Join(' ', Enumerable.Range(0, 5).Select(Sentence))).Drop);

        var messy = five + "\nno terminal punctuation here\nTwo words.\nPlease enable JavaScript to continue.\nRead our privacy policy first.\n"
            + "An ellipsis ends this line...\nA citation here.[3]\n" + new string('x', 1001) + " is a long word.";
        var (text, removed, drop) = c4.Apply(messy);
        Assert.Null(drop);
        Assert.Equal(6, removed);
        Assert.Equal(five + "\nA citation here.", text);

        Assert.Equal(C4Transform.LoremIpsum, c4.Apply(five + "\nLorem ipsum dolor sit amet.").Drop?.Reason);
        Assert.Equal(C4Transform.CurlyBracket, c4.Apply(five + "\nThe code { x } is here.").Drop?.Reason);
        Assert.Equal(C4Transform.NoLinesLeft, new C4Transform(new() { MinNumSentences = null }).Apply("no punctuation\nat all").Drop?.Reason);
        // CJK sentence terminals end lines and sentences; a Thai line (no terminal in the script) is not removed for it.
        Assert.Null(c4.Apply("本文档提供了常见问题。我们会尽可能减少预备知识。如果可能，会提供链接。您会发现有些解答。请阅读第十二章。").Drop);
        Assert.Equal(5, C4Transform.Sentences("本文档提供了常见问题。我们会尽可能减少预备知识。如果可能，会提供链接！您会发现有些解答？请阅读第十二章。"));
    }

    [Fact]
    public void FineWeb_quality_thresholds_at_their_edges()
    {
        string? Check(string text) => new FineWebQualityTransform(new()).Check(text, null)?.Reason;
        string Line(int i, bool punct) => Prose(8, i * 8) + (punct ? "." : "");
        string Doc(int lines, int withPunct) => string.Join('\n', Enumerable.Range(0, lines).Select(i => Line(i, i < withPunct)));
        Assert.Null(Check(Doc(100, 12)));
        Assert.Equal(FineWebQualityTransform.LinePunctRatio, Check(Doc(100, 11)));
        Assert.Null(new FineWebQualityTransform(new() { LinePunctExcludeZero = true }).Check(Doc(20, 0), null));

        // 67 of 100 lines of ≤ 30 characters pass, 68 fail.
        string Short(int i) => $"Line {i} is short.";
        string Mixed(int shortLines) => string.Join('\n', Enumerable.Range(0, 100).Select(i => i < shortLines ? Short(i) : Line(i, true)));
        Assert.Null(Check(Mixed(67)));
        Assert.Equal(FineWebQualityTransform.ShortLineRatio, Check(Mixed(68)));
        // A Chinese line of 20 characters is not short (30 × 0.5 = 15), one of 15 is.
        Assert.Equal(FineWebQualityTransform.ShortLineRatio, Check(string.Join('\n', Enumerable.Repeat("本文档提供了关于发行版的常见问题。", 1).Concat(Enumerable.Range(0, 5).Select(i => $"第{i}章本文档提供了关于发行版。")))));
        Assert.Null(Check(string.Join('\n', Enumerable.Range(0, 5).Select(i => $"第{i}章本文档提供了关于发行版的常见问题和解答。"))));

        var doc = Doc(10, 10);
        Assert.Equal(FineWebQualityTransform.CharDupRatio, Check(doc + "\n" + Line(0, true)));
        // Newlines per word: 3 per line of 8 tokens (0.375) fails, 2 (0.25) passes.
        Assert.Equal(FineWebQualityTransform.ListRatio, Check(string.Join("\n\n\n", Enumerable.Range(0, 40).Select(i => $"Item number {i} is long enough here."))));
        Assert.Null(Check(string.Join("\n\n", Enumerable.Range(0, 40).Select(i => $"Item number {i} is long enough here."))));
    }

    /// <summary>Generated documents mixing every kind of defect, at random strengths (seeded; the seed is printed).</summary>
    private static List<string> Generate(int seed, int count)
    {
        var rng = new Random(seed);
        var docs = new List<string>();
        string Word() => rng.Next(10) switch
        {
            0 => rng.Next(1000).ToString(),
            1 => "#",
            _ => Vocabulary[rng.Next(Vocabulary.Length)] + (rng.Next(8) == 0 ? new[] { ".", ",", "!", "?", "..." }[rng.Next(5)] : ""),
        };
        for (var d = 0; d < count; d++)
        {
            var lines = new List<string>();
            var nLines = rng.Next(1, 30);
            for (var l = 0; l < nLines; l++)
            {
                var line = string.Join(' ', Enumerable.Range(0, rng.Next(1, 25)).Select(_ => Word()));
                switch (rng.Next(12))
                {
                    case 0: line = "- " + line; break;
                    case 1: line = "• " + line; break;
                    case 2: line += "…"; break;
                    case 3: line += "."; break;
                    case 4 when lines.Count > 0: line = lines[rng.Next(lines.Count)]; break;
                    case 5: line = ""; break;
                }
                lines.Add(line);
            }
            var text = string.Join('\n', lines);
            if (rng.Next(6) == 0) text = text + "\n\n" + text;
            if (text.Trim().Length > 0) docs.Add(text);
        }
        return docs;
    }

    [Fact]
    public void Rule_sets_agree_with_the_reference_definitions_on_generated_text()
    {
        var seed = Environment.GetEnvironmentVariable("CURATION_TEST_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (CURATION_TEST_SEED={seed} reruns it)");
        var docs = Generate(seed, 600);
        var tokens = new List<Word>();
        var input = docs.Select(t =>
        {
            Words.Split(t, tokens);
            return new { text = t, words = tokens.Select(w => w.In(t).ToString()).ToArray() };
        }).ToList();

        var start = new ProcessStartInfo("python3", Path.Combine(RepositoryRoot.Get(), "tests", "pipelines", "Stages", "rule_oracle.py"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, StandardInputEncoding = new UTF8Encoding(false),
        };
        using var python = Process.Start(start)!;
        python.StandardInput.Write(JsonSerializer.Serialize(input));
        python.StandardInput.Close();
        var stdout = python.StandardOutput.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, python.StandardError.ReadToEnd());
        var expected = JsonSerializer.Deserialize<string[][]>(stdout)!;

        var gopher = new GopherQualityTransform(new());
        var repetition = new GopherRepetitionTransform(new());
        var fineweb = new FineWebQualityTransform(new());
        var mismatches = new List<string>();
        var seen = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < docs.Count; i++)
        {
            string[] ours = [gopher.Check(docs[i], null)?.Reason ?? "", repetition.Check(docs[i])?.Reason ?? "", fineweb.Check(docs[i], null)?.Reason ?? ""];
            for (var r = 0; r < 3; r++)
            {
                seen[ours[r] == "" ? "kept" : ours[r]] = seen.GetValueOrDefault(ours[r] == "" ? "kept" : ours[r]) + 1;
                if (ours[r] != expected[i][r]) mismatches.Add($"doc {i} rule set {r}: ours '{ours[r]}', reference '{expected[i][r]}': {JsonSerializer.Serialize(docs[i])[..Math.Min(200, docs[i].Length)]}");
            }
        }
        output.WriteLine(string.Join(", ", seen.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.Empty(mismatches);
        Assert.True(seen.Count >= 12, "the generator exercises most rules"); // kept plus many distinct reasons
    }

    [Fact]
    public void The_demo_corpus_loses_exactly_its_planted_low_quality_documents_to_quality_filter()
    {
        var truth = File.ReadLines(Path.Combine(RepositoryRoot.Get(), "samples", "corpus.truth.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var batch = Curation.Pipelines.Model.RecordBatch.ForDocuments();
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                var e = JsonDocument.Parse(line).RootElement;
                batch.AddDocument(e.GetProperty("id").GetString()!, e.GetProperty("text").GetString()!, file, batch.RowCount);
            }
        var normalized = new DropCollector(batch, "normalize");
        new NormalizeTransform(new()).Process(batch, normalized);
        var drops = new DropCollector(batch, "quality_filter");
        new QualityFilterTransform(new() { MinChars = 50, MaxChars = 100_000, MinWords = 8 }).Process(batch, drops);
        var counts = new Dictionary<string, long>();
        drops.CountReasons(counts);
        output.WriteLine(string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
        output.WriteLine(truth[0].ToString());
        Assert.Equal(new Dictionary<string, long> { ["repeated_lines"] = 15, ["symbol_ratio"] = 15, ["too_few_words"] = 15, ["too_short"] = 15 }, counts);
    }
}
