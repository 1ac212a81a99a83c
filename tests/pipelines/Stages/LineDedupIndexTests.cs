using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
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

    [Fact]
    public async Task A_base_index_out_of_hash_order_fails_naming_the_object()
    {
        var root = _temp.Combine("unsorted");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        var input = _temp.Combine("unsorted-corpus");
        _corpus.WritePart(input, 1);
        using var services = StageServices.CreateDefault();
        var job = await InProcessJob.RunAsync(Spec(input, "1"), stores, services);
        var snapshot = await CuratedSnapshot.ReadAsync(stores.DataStore, OutputPath);
        var partition = snapshot.Manifest.Snapshot!.Indexes.Where(i => i.Name == LineDedupStage.IndexName).MaxBy(i => i.Rows)!;
        Assert.True(partition.Rows > 1);

        // The same rows and file metadata in reverse order, in place of the base's partition.
        var key = job.OutputKeyOf(partition.Key);
        RecordBatch rows;
        IReadOnlyDictionary<string, string> metadata;
        await using (var stream = await job.Output.OpenReadAsync(key))
        await using (var reader = await ParquetTableReader.OpenAsync(stream))
        {
            metadata = reader.Metadata;
            rows = await reader.ReadRowGroupAsync(0);
        }
        var reversed = rows.Select(Enumerable.Range(0, rows.RowCount).Reverse().ToList());
        var path = Path.Combine(root, key);
        Assert.True(File.Exists(path), path);
        await using (var file = File.Create(path))
        await using (var writer = await ParquetTableWriter.CreateAsync(file, rows.Schema, metadata.ToDictionary()))
            await writer.WriteAsync(reversed);

        _corpus.WritePart(input, 2);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => InProcessJob.RunAsync(Spec(input, "2"), stores, services));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Contains("a line index is sorted by hash", error.Message, StringComparison.Ordinal);
    }

    private sealed record Run(CuratedSnapshot Snapshot, List<List<(long High, long Low, string Id, int Kept)>> Index, List<int> RowGroups);

    private async Task<List<Run>> RunPartsAsync(string name, int? rowGroupRows)
    {
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine(name) });
        var input = _temp.Combine(name + "-corpus");
        var runs = new List<Run>();
        // Only this flow's jobs write the smaller row groups: tests running beside it keep the default layout.
        using (rowGroupRows is { } rows ? LineDedupStage.UseIndexRowGroupRows(rows) : null)
        {
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
        return runs;
    }
}
