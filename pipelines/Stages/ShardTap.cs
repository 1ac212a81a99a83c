using Curation.Pipelines.Model;

namespace Curation.Pipelines.Stages;

/// <summary>
/// A later stage's view of a document pass's output as it is written: the surviving rows of one shard, batch by batch in
/// row order, exactly the rows the next stage would read back from the shard. A stage whose first phase only reads its
/// input shard once (exact dedup's hash) takes them here instead, so the shard is not read and decoded a second time.
/// <see cref="CommitAsync"/> runs after the pass committed its drops and before it commits the shard, so a committed
/// shard implies a committed tap; the stage's own phase still does the work itself when no tap ran (another writer,
/// fusion off on that silo, a shard written before this existed), with the same result.
/// </summary>
public interface IShardTap
{
    /// <summary>One written batch (after every member's drops): row <c>i</c> is the shard's row <c>rows so far + i</c>.</summary>
    void Add(RecordBatch batch);

    /// <summary>Commits what the tap produced, create-once (an earlier attempt's identical object is accepted).</summary>
    Task CommitAsync(CancellationToken cancellationToken);
}
