using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Reports;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The language stage on real text: Article 1 of the Universal Declaration of Human Rights (UN, free to reproduce) in twelve languages, and translated Debian manual pages.</summary>
public sealed class LanguageStageTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("language-stage");

    public void Dispose() => _temp.Dispose();

    /// <summary>UDHR Article 1, by ISO 639-1 code.</summary>
    public static readonly TheoryData<string, string> Udhr = new()
    {
        { "en", "All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience and should act towards one another in a spirit of brotherhood." },
        { "de", "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen." },
        { "fr", "Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité." },
        { "es", "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como están de razón y conciencia, deben comportarse fraternalmente los unos con los otros." },
        { "ru", "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью и должны поступать в отношении друг друга в духе братства." },
        { "zh", "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。" },
        { "ja", "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。人間は、理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。" },
        { "ko", "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다." },
        { "th", "มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักดิ์และสิทธิ ต่างมีเหตุผลและมโนธรรม และควรปฏิบัติต่อกันด้วยเจตนารมณ์แห่งภราดรภาพ" },
        { "ar", "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وهم قد وهبوا العقل والوجدان وعليهم أن يعامل بعضهم بعضًا بروح الإخاء." },
        { "hi", "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता प्राप्त है। उन्हें बुद्धि और अन्तरात्मा की देन प्राप्त है और परस्पर उन्हें भाईचारे के भाव से बर्ताव करना चाहिए।" },
        { "pl", "Wszyscy ludzie rodzą się wolni i równi pod względem swej godności i swych praw. Są oni obdarzeni rozumem i sumieniem i powinni postępować wobec innych w duchu braterstwa." },
    };

    private static RecordBatch Batch(params string[] texts)
    {
        var batch = RecordBatch.ForDocuments();
        for (var i = 0; i < texts.Length; i++) batch.AddDocument($"d{i}", texts[i], "test.jsonl", i);
        return batch;
    }

    private static (string Language, double Score) IdentifyOne(string text, LanguageStageSpec? spec = null)
    {
        var batch = Batch(text);
        new LanguageTransform(spec ?? new LanguageStageSpec()).Process(batch, new DropCollector(batch, "language"));
        return (batch.GetColumn<string>(LanguageTransform.LanguageColumn)[0], batch.GetColumn<double>(LanguageTransform.ScoreColumn)[0]);
    }

    [Theory]
    [MemberData(nameof(Udhr))]
    public void Identifies_real_text_in_every_script(string expected, string text)
    {
        var (language, score) = IdentifyOne(text);
        Assert.Equal(expected, language);
        Assert.InRange(score, 0.3, 1.0);
    }

    [Theory]
    [InlineData("en")]
    [InlineData("ru")]
    [InlineData("zh")]
    [InlineData("th")]
    [InlineData("ar")]
    public void Low_accuracy_mode_identifies_sentences(string expected)
    {
        var text = Udhr.Single(row => (string)row[0] == expected)[1];
        Assert.Equal(expected, IdentifyOne((string)text, new LanguageStageSpec { LowAccuracy = true }).Language);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  12 345 !!! ")]
    [InlineData("ok")]
    [InlineData("人人生而")]
    public void Text_too_short_to_tell_is_und_with_score_zero(string text) =>
        Assert.Equal(("und", 0.0), IdentifyOne(text));

    [Theory]
    [InlineData("de", "de")]
    [InlineData("DEU", "de")]
    [InlineData("zh", "zh")]
    [InlineData("tha", "th")]
    [InlineData("und", "und")]
    [InlineData("ger", null)] // ISO 639-2/B, not 639-3
    [InlineData("xx", null)]
    [InlineData("klingon", null)]
    public void Keep_codes_are_validated_against_Linguas_languages(string code, string? canonical)
    {
        var errors = JobSpecValidator.Validate(Spec(new LanguageStageSpec { Keep = [code] }, "in"), JobLimits.Default);
        Assert.Equal(canonical is not null, errors.All(e => !e.Field.EndsWith(".keep", StringComparison.Ordinal)));
        if (canonical is not null) Assert.Equal(canonical, LanguageIdentifier.Canonical(code));
    }

    [Theory]
    [InlineData("english", "'english' is not a language Lingua identifies (ISO 639-1 or 639-3 code, or und); english is 'en'")]
    [InlineData("Chinese", "'Chinese' is not a language Lingua identifies (ISO 639-1 or 639-3 code, or und); Chinese is 'zh'")]
    [InlineData("5", "'5' is not a language Lingua identifies (ISO 639-1 or 639-3 code, or und)")]
    public void A_language_named_in_english_is_refused_with_its_code(string name, string message)
    {
        var error = Assert.Single(JobSpecValidator.Validate(Spec(new LanguageStageSpec { Keep = [name] }, "in"), JobLimits.Default));
        Assert.Equal(("stages[0].keep", message), (error.Field, error.Message));
    }

    [Fact]
    public void The_same_text_gets_the_same_answer_in_any_batch_and_order()
    {
        var texts = Udhr.Select(row => (string)row[1]).ToArray();
        var once = texts.Select(t => IdentifyOne(t)).ToArray();
        var batch = Batch([.. texts.Reverse(), .. texts.Reverse()]);
        new LanguageTransform(new LanguageStageSpec()).Process(batch, new DropCollector(batch, "language"));
        var languages = batch.GetColumn<string>(LanguageTransform.LanguageColumn);
        var scores = batch.GetColumn<double>(LanguageTransform.ScoreColumn);
        for (var i = 0; i < texts.Length; i++)
        {
            var row = texts.Length - 1 - i;
            Assert.Equal(once[i], (languages[row], scores[row]));
            Assert.Equal(once[i], (languages[row + texts.Length], scores[row + texts.Length]));
        }
    }

    [Fact]
    public async Task Keep_and_minScore_drop_with_reasons_naming_language_and_score_and_the_books_balance()
    {
        var input = _temp.Combine("in");
        Directory.CreateDirectory(input);
        var rows = Udhr.Select(row => ((string)row[0], (string)row[1])).Append(("short", "hi")).ToArray();
        await File.WriteAllLinesAsync(Path.Combine(input, "udhr.jsonl"),
            rows.Select((r, i) => JsonSerializer.Serialize(new { id = $"{r.Item1}-{i}", text = r.Item2 })));
        var spec = Spec(new LanguageStageSpec { Keep = ["zh", "jpn", "ko", "tha", "ara", "en"], MinScore = 0.5 }, input);
        Assert.Empty(JobSpecValidator.Validate(spec, JobLimits.Default));

        using var services = StageServices.CreateDefault();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("store") });
        await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/language");

        Assert.Empty(result.Manifest.Accounting.Imbalances());
        var books = Assert.Single(result.Manifest.Accounting.Stages, s => s.Stage.EndsWith("language", StringComparison.Ordinal));
        foreach (var d in result.Drops) output.WriteLine($"{d.Id}: {d.Reason} — {d.Detail}");
        Assert.Equal(["ar-9", "en-0", "ja-6", "ko-7", "th-8", "zh-5"], result.KeptIds.Order(StringComparer.Ordinal));
        var uncertain = Assert.Single(result.Drops, d => d.Reason == LanguageTransform.Uncertain);
        Assert.Equal("short-12", uncertain.Id);
        Assert.StartsWith("und score 0 < minScore 0.5", uncertain.Detail);
        var notKept = result.Drops.Where(d => d.Reason == LanguageTransform.NotKept).ToDictionary(d => d.Id, d => d.Detail);
        Assert.Equal(["de-1", "es-3", "fr-2", "hi-10", "pl-11", "ru-4"], notKept.Keys.Order(StringComparer.Ordinal));
        Assert.Matches(@"^de \(score (1|0\.\d+)\) not in keep \[zh, jpn, ko, tha, ara, en\]$", notKept["de-1"]);
        Assert.Equal(6, books.Dropped[LanguageTransform.NotKept]);
        Assert.Equal(1, books.Dropped[LanguageTransform.Uncertain]);

        // The columns travel with the kept documents.
        var shard = result.Manifest.Shards[0];
        await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await stores.DataStore.ReadBytesAsync("curated/language/" + shard.Key)));
        var languages = new Dictionary<string, string>();
        await foreach (var batch in reader.ReadAllAsync())
            for (var i = 0; i < batch.RowCount; i++) languages[batch.Ids[i]] = batch.GetColumn<string>(LanguageTransform.LanguageColumn)[i];
        Assert.Equal("th", languages["th-8"]);
        Assert.Equal("ja", languages["ja-6"]);

        // The corpus report counts the curated documents per language and bins their scores.
        var (report, _) = await stores.DataStore.TryReadJsonAsync<CorpusReport>("curated/language/" + CorpusReport.JsonName, CurationJson.Options);
        Assert.Equal(["ar 1", "en 1", "ja 1", "ko 1", "th 1", "zh 1"], report!.Languages.Select(l => $"{l.Language} {l.Documents}"));
        Assert.Equal(10, report.LanguageScores.Count);
        Assert.Equal(6, report.LanguageScores.Sum(b => b.Count));
        Assert.Contains("id=\"languages\"", CorpusReportHtml.Render(report));
    }

    /// <summary>
    /// Accuracy on a labelled sample of real text: paragraphs of the translated manual pages installed on this machine
    /// (≥ 120 letters each, 40 per language). Not timed; the bench measures speed.
    /// </summary>
    [Fact]
    public void Accuracy_on_translated_manual_pages_is_high()
    {
        var corpus = LabelledLanguageCorpus.Build("/usr/share/man", perLanguage: 40)
            .Where(d => LanguageIdentifier.IsKnownCode(d.Language)).ToArray();
        var languages = corpus.Select(d => d.Language).Distinct().Count();
        Assert.True(languages >= 8, $"only {languages} languages of manual pages are installed under /usr/share/man");
        var batch = Batch(corpus.Select(d => d.Text).ToArray());
        new LanguageTransform(new LanguageStageSpec()).Process(batch, new DropCollector(batch, "language"));
        var predicted = batch.GetColumn<string>(LanguageTransform.LanguageColumn);
        var right = 0;
        foreach (var group in corpus.Select((d, i) => (d, i)).GroupBy(x => x.d.Language).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ok = group.Count(x => predicted[x.i] == x.d.Language);
            right += ok;
            output.WriteLine($"{group.Key}: {ok}/{group.Count()}" + string.Concat(group.Where(x => predicted[x.i] != x.d.Language).Take(2).Select(x => $"  [{predicted[x.i]}] {x.d.Text[..Math.Min(60, x.d.Text.Length)]}")));
        }
        var accuracy = right / (double)corpus.Length;
        output.WriteLine($"accuracy {accuracy:0.000} on {corpus.Length} paragraphs in {languages} languages");
        Assert.True(accuracy >= 0.9, $"accuracy {accuracy:0.000}");
    }

    private static JobSpec Spec(LanguageStageSpec language, string input) => new()
    {
        Name = "language",
        Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
        Stages = [language],
        Output = new OutputSpec { Path = "curated/language" },
    };
}
