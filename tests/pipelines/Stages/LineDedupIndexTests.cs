using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// line_dedup's corpus line index is merged by streaming the base's partition against this run's units: with row groups of
/// a few rows (so the merge crosses many row-group boundaries of the base it reads and of the index it writes) three
/// snapshots come out the same as with whole-partition row groups, and every index partition stays sorted by hash.
/// </summary>
public sealed class LineDedupIndexTests : IDisposable
{
    private const string OutputPath = "curated/lines";
    private readonly TempDirectory _temp = new("line-index");
    private readonly LineDedupRefreshCorpus _corpus = LineDedupRefreshCorpus.Generate();

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string input, string runKey) => new()
    {
        Name = "lines",
        RunKey = runKey,
        Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 8 * 1024 },
        Stages = [new LineDedupStageSpec { Partitions = 4, MaxOccurrences = 2 }],
        Output = new OutputSpec { Path = OutputPath, Snapshots = true },
    };

    [Fact]
    public async Task A_merge_across_small_row_groups_gives_the_same_snapshots_and_a_sorted_index()
    {
        var whole = await RunPartsAsync("whole", rowGroupRows: null);
        var small = await RunPartsAsync("small", rowGroupRows: 5);
        for (var part = 0; part < whole.Count; part++)
        {
            var (expected, actual) = (whole[part], small[part]);
            Assert.Equal(expected.Snapshot.Texts.OrderBy(t => t.Key, StringComparer.Ordinal), actual.Snapshot.Texts.OrderBy(t => t.Key, StringComparer.Ordinal));
            Assert.Equal(expected.Snapshot.Drops.Select(d => (d.Id, d.Reason)), actual.Snapshot.Drops.Select(d => (d.Id, d.Reason)));
            Assert.Equal(expected.Index, actual.Index);
            Assert.All(actual.Index, rows => Assert.Equal(rows.OrderBy(r => r.High).ThenBy(r => r.Low), rows));
        }
        // The small run's index partitions (of the last snapshot at least) span several row groups.
        Assert.Contains(small[^1].RowGroups, count => count > 1);
        Assert.True(small[^1].Index.Sum(rows => rows.Count) > whole[0].Index.Sum(rows => rows.Count));
    }

    private sealed record Run(CuratedSnapshot Snapshot, List<List<(long High, long Low, string Id, int Kept)>> Index, List<int> RowGroups);

    private async Task<List<Run>> RunPartsAsync(string name, int? rowGroupRows)
    {
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });
        var input = _temp.Combine(name + "-corpus");
        var runs = new List<Run>();
        var before = LineDedupStage.IndexRowGroupRows;
        try
        {
            if (rowGroupRows is { } rows) LineDedupStage.IndexRowGroupRows = rows;
            for (var part = 1; part <= 3; part++)
            {
                _corpus.WritePart(input, part);
                using var services = StageServices.CreateDefault();
                var job = await InProcessJob.RunAsync(Spec(input, part.ToString(System.Globalization.CultureInfo.InvariantCulture)), stores, services);
                var snapshot = await CuratedSnapshot.ReadAsync(stores.DataStore, OutputPath);
                var (index, groups) = (new List<List<(long, long, string, int)>>(), new List<int>());
                foreach (var partition in snapshot.Manifest.Snapshot!.Indexes.Where(i => i.Name == LineDedupStage.IndexName).OrderBy(i => i.Partition))
                {
                    await using var stream = await job.Output.OpenReadAsync(job.OutputKeyOf(partition.Key));
                    await using var reader = await ParquetTableReader.OpenAsync(stream);
                    groups.Add(reader.RowGroupCount);
                    var list = new List<(long, long, string, int)>();
                    await foreach (var batch in reader.ReadAllAsync())
                        for (var i = 0; i < batch.RowCount; i++)
                            list.Add((batch.GetColumn<long>("hash_hi")[i], batch.GetColumn<long>("hash_lo")[i], batch.Ids[i], batch.GetColumn<int>("kept")[i]));
                    index.Add(list);
                }
                runs.Add(new Run(snapshot, index, groups));
            }
        }
        finally
        {
            LineDedupStage.IndexRowGroupRows = before;
        }
        return runs;
    }
}
