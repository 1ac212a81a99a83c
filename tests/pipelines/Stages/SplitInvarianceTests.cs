using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Splitting on read never changes the output: the same job over big objects (plain JSONL, gzip and zstd JSONL, Parquet of
/// many row groups, line text, gzip line text) with shard targets of 1 MiB and 1 GiB gives the same curated ids, the same shard
/// contents (ordered by id), drops and quarantine, and positions are record numbers in each object.
/// </summary>
public sealed class SplitInvarianceTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("split");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Shard_targets_of_one_MiB_and_one_GiB_give_identical_output()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        var corpus = new BigObjectCorpus(seed: 11);
        var jsonl = corpus.Jsonl(3_500_000);
        await File.WriteAllBytesAsync(Path.Combine(input, "big.jsonl"), jsonl);
        await File.WriteAllBytesAsync(Path.Combine(input, "big.jsonl.gz"), BigObjectCorpus.Gzip(corpus.Jsonl(2_500_000)));
        await File.WriteAllBytesAsync(Path.Combine(input, "big.jsonl.zst"), BigObjectCorpus.Zstd(corpus.Jsonl(2_000_000)));
        await File.WriteAllBytesAsync(Path.Combine(input, "big.parquet"), await corpus.ParquetAsync(groups: 16, rowsPerGroup: 250));
        await File.WriteAllLinesAsync(Path.Combine(input, "lines.txt"), Enumerable.Range(0, 2000).Select(_ => corpus.Text()));
        // UTF-16 with a byte order mark (PowerShell's default): its newlines are two bytes, so it is read whole into parts.
        var wide = new System.Text.UnicodeEncoding(bigEndian: false, byteOrderMark: true);
        await File.WriteAllBytesAsync(Path.Combine(input, "utf16.jsonl"), [.. wide.GetPreamble(), .. wide.GetBytes(System.Text.Encoding.UTF8.GetString(corpus.Jsonl(800_000)))]);
        // CSV with quoted line breaks: a row cannot be found from the middle, so it is read whole into parts.
        static string Quote(string value) => "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await File.WriteAllLinesAsync(Path.Combine(input, "table.csv"), new[] { "id,text,kind" }
            .Concat(Enumerable.Range(0, 5000).Select(i => $"c{i},{Quote(corpus.Text() + (i % 3 == 0 ? "\nsecond \"line\"" : ""))},k{i % 5}")));
        // Compressed text: never cut into byte ranges, read whole into parts (a .txt.gz was refused as an unknown format).
        await File.WriteAllBytesAsync(Path.Combine(input, "lines.txt.gz"),
            BigObjectCorpus.Gzip(System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 6000).Select(_ => corpus.Text() + "\n")))));
        // A JSON array (json.dump's .json, indented): read whole by one task into parts, as a compressed stream is.
        var objects = System.Text.Encoding.UTF8.GetString(corpus.Jsonl(2_000_000)).Split('\n')
            .Where(line => line.StartsWith('{') && IsObject(line)).Select(line => "  " + line);
        await File.WriteAllTextAsync(Path.Combine(input, "array.json"), "[\n" + string.Join(",\n", objects) + "\n]\n");
        // Objects written over many lines one after another (jq without -c): read whole by one task into parts too.
        var indented = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        var pretty = System.Text.Encoding.UTF8.GetString(corpus.Jsonl(1_500_000)).Split('\n')
            .Where(line => line.StartsWith('{') && IsObject(line)).Select(line => System.Text.Json.Nodes.JsonNode.Parse(line)!.ToJsonString(indented) + "\n");
        await File.WriteAllTextAsync(Path.Combine(input, "pretty.json"), string.Concat(pretty));

        JobSpec Spec(long target) => new()
        {
            Name = "split",
            Inputs =
            [
                new InputSpec { Path = Path.Combine(input, "big.jsonl*"), MaxRecordBytes = 1500 },
                new InputSpec { Path = Path.Combine(input, "*.parquet") },
                new InputSpec { Path = Path.Combine(input, "*.txt*"), TextDocuments = TextDocumentMode.Line },
                new InputSpec { Path = Path.Combine(input, "array.json"), MaxRecordBytes = 1500 },
                new InputSpec { Path = Path.Combine(input, "pretty.json"), MaxRecordBytes = 3000 },
                new InputSpec { Path = Path.Combine(input, "utf16.jsonl"), MaxRecordBytes = 1500 },
                new InputSpec { Path = Path.Combine(input, "table.csv"), IdField = "id" },
            ],
            Sharding = new ShardingSpec { TargetShardBytes = target },
            Stages = [new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 20, MinWords = 3 }, new ExactDedupStageSpec { Partitions = 4 }],
            Output = new OutputSpec { Path = "curated/split" },
        };

        async Task<(JobContext Job, CuratedOutput Output, List<(string, string, string, long)> Rows)> RunAsync(string name, long target)
        {
            var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });
            using var services = StageServices.CreateDefault();
            var job = await InProcessJob.RunAsync(Spec(target), stores, services);
            var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/split");
            return (job, result, await BigObjectCorpus.ReadRowsAsync(stores.DataStore, "curated/split", result.Manifest));
        }

        var small = await RunAsync("small", 1L << 20);
        var large = await RunAsync("large", 1L << 30);

        var parts = small.Job.Plan.Shards.SelectMany(s => s.Objects).Where(o => o.Part is not null).GroupBy(o => o.Part!.Unit).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"1 MiB: {small.Job.Plan.ShardCount} shards, parts {string.Join(", ", parts.Select(p => $"{p.Key} {p.Value}"))}; 1 GiB: {large.Job.Plan.ShardCount} shard(s)");
        Assert.True(parts.GetValueOrDefault(PartUnit.Bytes) >= 4, "the plain JSONL and the text are cut into byte ranges");
        Assert.True(parts.GetValueOrDefault(PartUnit.Stream) >= 4, "the gzip and zstd streams are read into several parts each");
        Assert.True(parts.GetValueOrDefault(PartUnit.RowGroups) >= 2, "the Parquet file is cut between row groups");
        Assert.True(small.Job.Plan.Shards.SelectMany(s => s.Objects).Count(o => o.Source == "array.json" && o.Part is { Unit: PartUnit.Stream }) >= 2,
            "the JSON array is read into several parts, never cut into byte ranges");
        Assert.Contains(small.Rows, r => r.Item3 == "array.json");
        Assert.True(small.Job.Plan.Shards.SelectMany(s => s.Objects).Count(o => o.Source == "pretty.json" && o.Part is { Unit: PartUnit.Stream }) >= 2,
            "the objects written over many lines are read into several parts, never cut into byte ranges");
        Assert.True(small.Rows.Count(r => r.Item3 == "pretty.json") > 100, "each object written over many lines is a document");
        Assert.True(small.Job.Plan.Shards.SelectMany(s => s.Objects).Count(o => o.Source == "lines.txt.gz" && o.Part is { Unit: PartUnit.Stream }) >= 2,
            "the gzip text is read into several parts, never cut into byte ranges");
        Assert.True(small.Rows.Count(r => r.Item3 == "lines.txt.gz") > 1000, "the gzip text's lines are documents");
        Assert.True(small.Job.Plan.Shards.SelectMany(s => s.Objects).Count(o => o.Source == "utf16.jsonl" && o.Part is { Unit: PartUnit.Stream }) >= 2,
            "the UTF-16 JSONL is read into several parts, never cut into byte ranges");
        Assert.True(small.Rows.Count(r => r.Item3 == "utf16.jsonl") > 100, "the UTF-16 JSONL's lines are documents");
        Assert.True(small.Job.Plan.Shards.SelectMany(s => s.Objects).Count(o => o.Source == "table.csv" && o.Part is { Unit: PartUnit.Stream }) >= 2,
            "the CSV is read into several parts, never cut into byte ranges");
        Assert.Contains(small.Rows, r => r.Item3 == "table.csv" && r.Item2.Contains("\nsecond \"line\"", StringComparison.Ordinal));
        Assert.Equal(1, large.Job.Plan.ShardCount);
        Assert.True(small.Output.Manifest.Shards.Count > 1);

        Assert.Equal(large.Output.KeptIds.Order(StringComparer.Ordinal), small.Output.KeptIds.Order(StringComparer.Ordinal));
        Assert.Equal(large.Rows, small.Rows);
        Assert.Equal(large.Output.Drops.OrderBy(d => d.Id, StringComparer.Ordinal), small.Output.Drops.OrderBy(d => d.Id, StringComparer.Ordinal));
        Assert.Equal(large.Output.Quarantine.OrderBy(q => (q.Source, q.Position)), small.Output.Quarantine.OrderBy(q => (q.Source, q.Position)));
        Assert.Contains(small.Output.Drops, d => d.Reason == "exact_duplicate");
        Assert.Contains(small.Output.Quarantine, q => q.Reason == QuarantineReasons.MalformedJson);

        // Positions are record numbers in the object: the JSONL row at position p is line p of the file.
        var lines = System.Text.Encoding.UTF8.GetString(jsonl).Split('\n');
        foreach (var (id, _, source, position) in small.Rows.Where(r => r.Item3 == "big.jsonl").Take(200))
        {
            Assert.Equal(ReadStageId(source, position), id);
            Assert.Contains("\"n\":", lines[position]);
        }
        Assert.Equal(small.Output.Manifest.Accounting.InputRecords, large.Output.Manifest.Accounting.InputRecords);

        // Passed-through fields too: the same schema (fixed per job, not per shard) and the same values in every row.
        Assert.Equal(large.Output.Manifest.Schema, small.Output.Manifest.Schema);
        Assert.Contains(small.Output.Manifest.Schema, c => c.Name == "n" && c.Type == "int64?");
        Assert.Equal(await AllColumnsAsync("large", large.Output), await AllColumnsAsync("small", small.Output));
    }

    private static bool IsObject(string line)
    {
        try
        {
            return System.Text.Json.JsonDocument.Parse(line).RootElement.ValueKind == System.Text.Json.JsonValueKind.Object;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>Every row of every curated shard with all its columns, ordered by id.</summary>
    private async Task<List<string>> AllColumnsAsync(string name, CuratedOutput result)
    {
        var rows = new List<string>();
        foreach (var shard in result.Manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(_temp.Combine(name), "curated", "split", shard.Key)));
            await foreach (var b in reader.ReadAllAsync())
                for (var i = 0; i < b.RowCount; i++)
                    rows.Add(string.Join("\u0001", b.AllColumns.Select(c => $"{c.Name}={c.Values[i]}")));
        }
        return rows.Order(StringComparer.Ordinal).ToList();
    }

    private static string ReadStageId(string source, long position) => Pipelines.Stages.ReadStage.DerivedId(source, position);
}
