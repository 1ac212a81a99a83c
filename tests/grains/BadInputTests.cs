using System.IO.Compression;
using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Grains.Tests;

/// <summary>Bad input never crashes a job and is never silently lost: every record is kept, dropped or quarantined.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _temp = new("bad-input");

    public void Dispose() => _temp.Dispose();

    private static string Doc(string id, string text) => $"{{\"id\":\"{id}\",\"text\":\"{text}\"}}\n";

    private const string Good = "A perfectly ordinary document about curating data for training language models.";

    private string WriteCorpus()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var mixed = new MemoryStream();
        void Line(string s) => mixed.Write(Encoding.UTF8.GetBytes(s));
        Line(Doc("m0", Good + " zero"));
        Line("{\"id\": \"m1\", \"text\": \"unterminated\n");                 // line 2: malformed JSON
        mixed.Write([0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0x6D, 0x32, 0x22, 0x2C, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A]); // line 3: invalid UTF-8
        Line("{\"id\": \"m3\", \"body\": \"no text field\"}\n");               // line 4: missing text
        Line("{\"id\": \"m4\", \"text\": 42}\n");                                // line 5: text not a string
        Line(Doc("m5", Good + " five"));
        File.WriteAllBytes(Path.Combine(folder, "mixed.jsonl"), mixed.ToArray());

        File.WriteAllBytes(Path.Combine(folder, "empty.jsonl"), []);

        var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
            for (var i = 0; i < 200; i++) zip.Write(Encoding.UTF8.GetBytes(Doc($"g{i:D3}", $"{Good} gzip number {i} with its own words {i * 7919}")));
        var whole = gz.ToArray();
        File.WriteAllBytes(Path.Combine(folder, "good.jsonl.gz"), whole);
        File.WriteAllBytes(Path.Combine(folder, "truncated.jsonl.gz"), whole[..(whole.Length / 2)]);

        File.WriteAllText(Path.Combine(folder, "bad.parquet"), "this is not a parquet file, just text with a misleading name");

        // One 50 MB document: quarantined unread, never loaded.
        using (var big = File.Create(Path.Combine(folder, "huge.jsonl")))
        {
            big.Write(Encoding.UTF8.GetBytes("{\"id\":\"huge\",\"text\":\""));
            var chunk = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("lorem ipsum ", 1000)));
            for (long written = 0; written < 50L * 1024 * 1024; written += chunk.Length) big.Write(chunk);
            big.Write(Encoding.UTF8.GetBytes("\"}\n"));
            big.Write(Encoding.UTF8.GetBytes(Doc("after-huge", Good + " after the huge one")));
        }
        return folder;
    }

    [Fact]
    public async Task Every_bad_record_is_quarantined_with_object_position_and_reason_and_the_books_balance()
    {
        var folder = WriteCorpus();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        var spec = new JobSpec
        {
            Name = "bad-input",
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 4096 },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/bad" },
        };
        await using var cluster = await CurationCluster.StartAsync(1, () => stores);
        var status = await cluster.RunAsync(spec);

        Assert.True(status.State == JobState.Completed, status.Error);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/bad");
        var books = output.Manifest.Accounting;
        Assert.Empty(books.Imbalances());
        Assert.Equal(books.InputRecords, books.Kept + books.Dropped + books.Quarantined);

        var q = output.Quarantine.Select(r => (r.Source, r.Position, r.Reason)).ToHashSet();
        Assert.Contains(("mixed.jsonl", 1L, QuarantineReasons.MalformedJson), q);
        Assert.Contains(("mixed.jsonl", 2L, QuarantineReasons.InvalidUtf8), q);
        Assert.Contains(("mixed.jsonl", 3L, QuarantineReasons.MissingTextField), q);
        Assert.Contains(("mixed.jsonl", 4L, QuarantineReasons.TextNotString), q);
        Assert.Contains(("huge.jsonl", 0L, QuarantineReasons.RecordTooLarge), q);
        Assert.Contains(output.Quarantine, r => r.Source == "truncated.jsonl.gz" && r.Reason == QuarantineReasons.CorruptObject);
        Assert.Contains(output.Quarantine, r => r.Source == "bad.parquet" && r.Reason == QuarantineReasons.CorruptObject);
        Assert.All(output.Quarantine, r => Assert.False(string.IsNullOrWhiteSpace(r.Detail)));

        // Corrupt objects are named in the job's errors; everything readable around them was kept.
        Assert.Contains(output.Manifest.Errors, e => e.Contains("truncated.jsonl.gz"));
        Assert.Contains(output.Manifest.Errors, e => e.Contains("bad.parquet"));
        Assert.Contains("m0", output.KeptIds);
        Assert.Contains("m5", output.KeptIds);
        Assert.Contains("after-huge", output.KeptIds);
        Assert.Equal(200, output.KeptIds.Count(id => id.StartsWith('g')));
    }
}
