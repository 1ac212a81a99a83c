using Curation.Pipelines.Execution;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Consecutive <see cref="DocumentStage"/>s run as one pass over a shard (a single one too when the next stage taps its
/// output, <see cref="IShardTap"/>): the first member's task reads the shard once,
/// applies every member's transform in order, writes each member's drops to its own drops key (its own stage name and
/// reasons), the surviving rows once to the last member's shard key, and each later member's stats create-once; later
/// members' tasks only read their recorded stats. Row groups are cut exactly where the unfused chain cuts them (one per
/// non-empty batch), so the output bytes, drops, books and manifest are those of the unfused chain. The run right after
/// the read stage goes further: the read task feeds it the row groups it cuts as it parses the sources (<see cref="AfterRead"/>),
/// so the read stage's own shard is never written nor read back; the read keeps its own books and quarantine.
/// </summary>
public static class FusedDocumentPass
{
    private static readonly FlowSetting<bool> Fuse = new(Environment.GetEnvironmentVariable("CURATION_FUSE_DOCUMENT_STAGES") != "0");

    /// <summary>
    /// Whether document stages fuse: the process's setting (<c>CURATION_FUSE_DOCUMENT_STAGES=0</c> turns it off), unless
    /// the calling flow chose otherwise with <see cref="Use"/>.
    /// </summary>
    public static bool Enabled => Fuse.Value;

    /// <summary>
    /// Fusion on or off for the calling async flow only (the jobs it runs in-process, their tasks included) until disposed:
    /// off runs every document stage on its own, the reference for identity tests and benchmarks. Other flows (tests
    /// running in parallel) are not affected.
    /// </summary>
    public static IDisposable Use(bool fuse) => Fuse.Use(fuse);

    /// <summary>The run of consecutive document stages that contains <paramref name="stage"/>.</summary>
    public static IReadOnlyList<DocumentStage> Members(JobContext job, PipelineStage stage)
    {
        var first = stage.Index;
        while (first > 0 && job.Stages[first - 1] is DocumentStage) first--;
        var last = stage.Index;
        while (last + 1 < job.Stages.Count && job.Stages[last + 1] is DocumentStage) last++;
        return [.. Enumerable.Range(first, last - first + 1).Select(i => (DocumentStage)job.Stages[i])];
    }

    /// <summary>
    /// The next stage's tap on the shard a pass ending with <paramref name="last"/> writes (<see cref="IShardTap"/>), or null.
    /// Part of the fused pass: with fusion off each stage reads its own input (the reference the identity tests compare with).
    /// </summary>
    public static IShardTap? TapOfNext(JobContext job, PipelineStage last, int shard) =>
        last.Index + 1 < job.Stages.Count ? job.Stages[last.Index + 1].TapInput(job, shard) : null;

    /// <summary>
    /// <see cref="TapOfNext"/> where fusion is on, else null: what every pass that writes a shard (the read, a fused pass, a
    /// stage's own apply) hands its rows to, so the next stage does not read the shard again.
    /// </summary>
    public static IShardTap? TapOfNextWhenFused(JobContext job, PipelineStage last, int shard) => Enabled ? TapOfNext(job, last, shard) : null;

    /// <summary>Where the head's pass records a later member's stats for one shard.</summary>
    public static string MemberStatsKey(JobContext job, PipelineStage member, int shard) =>
        job.Layout.PhaseRoot(member.Index, member.Name, "fused") + JobLayout.ShardName(shard) + ".stats.json";

    public static async Task<TaskStats> RunAsync(TaskContext task, IReadOnlyList<DocumentStage> members, CancellationToken cancellationToken)
    {
        var job = task.Job;
        var shard = task.Task;
        var last = members[^1];
        var bound = await DocumentStage.BindAsync(members, task.Services, cancellationToken).ConfigureAwait(false);
        var (stats, seconds) = await ShardTransformer.RunAsync(task, shard, bound,
            job.Layout.ShardData(last.Index, last.Name, shard), RecordLaterMembersAsync, TapOfNext(job, last, shard), cancellationToken)
            .ConfigureAwait(false);
        return stats[0] with { Seconds = seconds };

        Task RecordLaterMembersAsync(TaskStats[] memberStats, CancellationToken ct) => RecordAsync(job, members, 1, shard, memberStats, ct);
    }

    /// <summary>
    /// The run of document stages right after the read stage, which the read task runs in its own pass as it parses its
    /// sources (one Parquet write and read of every document less); empty when stage 1 is not a document stage or fusing is off.
    /// Their tasks then only read their recorded stats (<see cref="RecordedAsync"/>).
    /// </summary>
    public static IReadOnlyList<DocumentStage> AfterRead(JobContext job) =>
        Enabled && job.Stages.Count > 1 && job.Stages[1] is DocumentStage first ? Members(job, first) : [];

    /// <summary>Records create-once the stats of <paramref name="members"/> from <paramref name="from"/> on, as their tasks will return them.</summary>
    public static async Task RecordAsync(JobContext job, IReadOnlyList<DocumentStage> members, int from, int shard, TaskStats[] memberStats,
        CancellationToken cancellationToken)
    {
        for (var m = from; m < members.Count; m++)
        {
            try
            {
                await job.Data.WriteJsonAsync(MemberStatsKey(job, members[m], shard), memberStats[m], WriteCondition.CreateOnly, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (ObjectAlreadyExistsException)
            {
                // A killed or duplicate attempt recorded them first; the pass is deterministic, so they are the same.
            }
        }
    }

    /// <summary>A later member's task: the stats the head's pass recorded, or null when the head ran unfused.</summary>
    public static async Task<TaskStats?> RecordedAsync(TaskContext task, CancellationToken cancellationToken)
    {
        var (stats, _) = await task.Job.Data.TryReadJsonAsync<TaskStats>(MemberStatsKey(task.Job, task.Stage, task.Task), cancellationToken: cancellationToken).ConfigureAwait(false);
        return stats is null ? null : stats with { Fused = true };
    }
}
