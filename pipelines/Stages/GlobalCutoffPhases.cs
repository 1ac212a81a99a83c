using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Model;
using Curation.Pipelines.Semantic;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A global cutoff on (value, id) found without gathering the corpus, as phases of the owning stage (shared by <c>d4</c>,
/// which removes the smallest distances, and <c>quality_score</c>, which removes the lowest scores): the documents with
/// the smallest values, ties by id (ordinal ascending), are removed until <c>keepFraction</c> of them remain
/// (<see cref="D4Selection"/>). The owner's per-shard phase writes a table with an id and a float value column per shard
/// (<paramref name="valuesKey"/>) and the values' high-bit histogram (<see cref="WriteHighAsync"/>); then
/// <list type="number">
/// <item><b>locate-high</b>: the bin holding the last document to remove;</item>
/// <item><b>count-low</b> (per shard) / <b>locate-low</b>: the exact value inside it;</item>
/// <item><b>ties</b> (per shard) / <b>cutoff</b>: the last id at that value.</item>
/// </list>
/// The owner's apply phase reads the decision with <see cref="CutoffAsync"/>. Objects live under the owning stage's
/// folder: <c>high/</c>, <c>low/</c>, <c>ties/</c> and one JSON per round.
/// </summary>
internal sealed class GlobalCutoffPhases(PipelineStage stage, double keepFraction, string valueColumn, Func<TaskContext, int, string> valuesKey)
{
    public const string LocateHighPhase = "locate-high";
    public const string CountLowPhase = "count-low";
    public const string LocateLowPhase = "locate-low";
    public const string TiesPhase = "ties";
    public const string CutoffPhase = "cutoff";

    /// <summary>The rounds' decisions: what locate-high, locate-low and cutoff found.</summary>
    public sealed record Round(long Documents, long Remove, int HighBin = 0, long RankInHigh = 0, uint Key = 0, long RankAmongTies = 0, string? LastId = null);

    /// <summary>The phases as values, for a stage that declares its phases (<see cref="PipelineStage.DeclarePhases"/>).</summary>
    public IEnumerable<StagePhase> Declare(JobPlan plan)
    {
        yield return new(LocateHighPhase, TaskScope.Single, 1, LocateHighAsync);
        yield return new(CountLowPhase, TaskScope.Shard, plan.ShardCount, CountLowAsync);
        yield return new(LocateLowPhase, TaskScope.Single, 1, LocateLowAsync);
        yield return new(TiesPhase, TaskScope.Shard, plan.ShardCount, TiesAsync);
        yield return new(CutoffPhase, TaskScope.Single, 1, CutoffRoundAsync);
    }

    /// <summary>The value a key stands for (the inverse of <see cref="D4Selection.KeyOf"/>).</summary>
    public static float ValueOf(uint key)
    {
        var bits = (key & 0x8000_0000u) != 0 ? key & 0x7FFF_FFFFu : ~key;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    /// <summary>The owner's per-shard phase: adds this shard's values to the high-bit histogram.</summary>
    public Task WriteHighAsync(TaskContext task, ReadOnlySpan<float> values, CancellationToken cancellationToken)
    {
        var high = new long[D4Selection.HistogramBins];
        D4Selection.CountHigh(values, high);
        return StageObjects.WriteSparseHistogramAsync(task.Job.Data, ShardKey(task, "high", task.Task, "bin"), high, cancellationToken);
    }

    /// <summary>The high-bit histogram of every shard's values (for reports).</summary>
    public Task<long[]> MergeHighAsync(TaskContext task, CancellationToken cancellationToken) => MergeAsync(task, "high", cancellationToken);

    /// <summary>The decision after the cutoff round, and the round itself (documents, how many removed).</summary>
    public async Task<(D4Cutoff Cutoff, Round Round)> CutoffAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, CutoffPhase, cancellationToken).ConfigureAwait(false);
        return (round.LastId is null ? D4Cutoff.None : new D4Cutoff(round.Key, round.LastId), round);
    }

    private string Key(TaskContext task, string relative) => task.Job.Layout.StageRoot(stage.Index, stage.Name) + relative;

    private string ShardKey(TaskContext task, string folder, int shard, string extension) => Key(task, $"{folder}/{JobLayout.ShardName(shard)}.{extension}");

    private Task WriteRoundAsync(TaskContext task, string name, Round round, CancellationToken cancellationToken) =>
        StageObjects.WriteJsonOnceAsync(task.Job.Data, Key(task, $"{name}.json"), round, cancellationToken);

    private async Task<Round> ReadRoundAsync(TaskContext task, string name, CancellationToken cancellationToken) =>
        (await Storage.ObjectStoreExtensions.TryReadJsonAsync<Round>(task.Job.Data, Key(task, $"{name}.json"), cancellationToken: cancellationToken).ConfigureAwait(false)).Value
        ?? throw new InvalidOperationException($"{stage}: {name}.json is missing.");

    private async Task<long[]> MergeAsync(TaskContext task, string folder, CancellationToken cancellationToken)
    {
        var histogram = new long[D4Selection.HistogramBins];
        for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
            await StageObjects.AddSparseHistogramAsync(task.Job.Data, ShardKey(task, folder, shard, "bin"), histogram, cancellationToken).ConfigureAwait(false);
        return histogram;
    }

    /// <summary>A row of a shard's ties: a document whose value falls in the cutoff's key.</summary>
    private readonly record struct TieRow(string Id);

    /// <summary>A shard's values table: ids and the value column named by the owning stage (<c>valueColumn</c>).</summary>
    private async Task<RecordBatch> ReadValuesAsync(TaskContext task, int shard, CancellationToken cancellationToken) =>
        await StageObjects.ReadParquetAsync(task.Job.Data, valuesKey(task, shard), cancellationToken).ConfigureAwait(false);

    private async Task<TaskStats> LocateHighAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var high = await MergeAsync(task, "high", cancellationToken).ConfigureAwait(false);
        var documents = high.Sum();
        var remove = documents - D4Selection.KeepCount(documents, keepFraction);
        var round = new Round(documents, remove);
        if (remove > 0)
        {
            var (bin, rankInBin) = D4Selection.Locate(high, remove - 1);
            round = round with { HighBin = bin, RankInHigh = rankInBin };
        }
        await WriteRoundAsync(task, LocateHighPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = { ["to_remove"] = remove } };
    }

    private async Task<TaskStats> CountLowAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, LocateHighPhase, cancellationToken).ConfigureAwait(false);
        var low = new long[D4Selection.HistogramBins];
        if (round.Remove > 0)
        {
            var values = (await ReadValuesAsync(task, task.Task, cancellationToken).ConfigureAwait(false)).GetColumn<float>(valueColumn);
            D4Selection.CountLow(values.List.ToArray(), round.HighBin, low);
        }
        await StageObjects.WriteSparseHistogramAsync(task.Job.Data, ShardKey(task, "low", task.Task, "bin"), low, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    private async Task<TaskStats> LocateLowAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, LocateHighPhase, cancellationToken).ConfigureAwait(false);
        if (round.Remove > 0)
        {
            var (bin, rankAmongTies) = D4Selection.Locate(await MergeAsync(task, "low", cancellationToken).ConfigureAwait(false), round.RankInHigh);
            round = round with { Key = ((uint)round.HighBin << 16) | (uint)bin, RankAmongTies = rankAmongTies };
        }
        await WriteRoundAsync(task, LocateLowPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }

    private async Task<TaskStats> TiesAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, LocateLowPhase, cancellationToken).ConfigureAwait(false);
        var ties = new ShuffleRows<TieRow>();
        if (round.Remove > 0)
        {
            var table = await ReadValuesAsync(task, task.Task, cancellationToken).ConfigureAwait(false);
            var values = table.GetColumn<float>(valueColumn);
            for (var i = 0; i < table.RowCount; i++)
                if (D4Selection.KeyOf(values[i]) == round.Key) ties.Add(new TieRow(table.Ids[i]));
        }
        await ShuffleTable.WriteAsync(task.Job.Data, ShardKey(task, "ties", task.Task, "parquet"), ties, null, cancellationToken).ConfigureAwait(false);
        return new TaskStats { Metrics = { ["ties"] = ties.Count } };
    }

    private async Task<TaskStats> CutoffRoundAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var round = await ReadRoundAsync(task, LocateLowPhase, cancellationToken).ConfigureAwait(false);
        if (round.Remove > 0)
        {
            var ids = new List<string>();
            for (var shard = 0; shard < task.Job.Plan.ShardCount; shard++)
                ids.AddRange((await ShuffleTable.ReadAllAsync<TieRow>(task.Job.Data, ShardKey(task, "ties", shard, "parquet"), cancellationToken).ConfigureAwait(false))
                    .Select(t => t.Id));
            round = round with { LastId = D4Selection.CutoffAmongTies(round.Key, ids, round.RankAmongTies).LastId };
        }
        await WriteRoundAsync(task, CutoffPhase, round, cancellationToken).ConfigureAwait(false);
        return new TaskStats();
    }
}
