using Curation.Pipelines.Model;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// What the exact-dedup shuffle (<see cref="ExactDedupStage"/>) groups documents by and which member of a group it keeps:
/// every document with a key falls in the group of that key; the member with the smallest rank (see <see cref="KeyOf"/>; then
/// the smallest id, shard and row) is the group's keeper. exact_dedup keys on the text's hash and ranks all documents
/// alike (smallest id wins); url_dedup keys on the normalised URL and ranks longer texts first. One mechanism, two stages.
/// </summary>
public abstract class DedupKey
{
    /// <summary>The stage's name (its spec's <c>type</c>): folders, books and drops.</summary>
    public abstract string StageName { get; }

    /// <summary>The drop reason of a duplicate.</summary>
    public abstract string Reason { get; }

    /// <summary>Key partitions, each resolved by its own task.</summary>
    public abstract int Partitions { get; }

    public abstract DedupKeep Keep { get; }

    /// <summary>The columns the hash phase reads (besides the id).</summary>
    public abstract IReadOnlyList<string> ReadColumns { get; }

    /// <summary>The column the apply phase adds to every kept document (its key in readable form).</summary>
    public abstract string OutputColumn { get; }

    /// <summary>The key and rank of <paramref name="row"/>; null when the document has none (it is never a duplicate).</summary>
    public abstract (ContentHash Key, long Rank)? KeyOf(RecordBatch batch, int row);

    /// <summary>The value of <see cref="OutputColumn"/> for <paramref name="row"/>.</summary>
    public abstract string? OutputValue(RecordBatch batch, int row);

    /// <summary>
    /// True when <see cref="OutputValue"/> is the key itself in readable form and every document has a key: the apply
    /// phase then takes it from the stored keys instead of computing it again.
    /// </summary>
    public virtual bool OutputIsKey => false;
}

/// <summary>exact_dedup's key: the content hash of the text (see <see cref="ContentHash"/>); every member ranks alike.</summary>
public sealed class ContentDedupKey(ExactDedupStageSpec spec) : DedupKey
{
    public override string StageName => ExactDedupStageSpec.TypeName;

    public override string Reason => ExactDedupStage.DuplicateReason;

    public override int Partitions => spec.Partitions;

    public override DedupKeep Keep => spec.Keep;

    public override IReadOnlyList<string> ReadColumns { get; } = [Columns.Text];

    public override string OutputColumn => ExactDedupStage.HashColumn;

    public override (ContentHash Key, long Rank)? KeyOf(RecordBatch batch, int row) => (Hash(batch, row), 0);

    public override string? OutputValue(RecordBatch batch, int row) => Hash(batch, row).ToString();

    public override bool OutputIsKey => true;

    private ContentHash Hash(RecordBatch batch, int row) => ContentHash.Of(batch.Texts[row], spec.CaseFold, spec.CollapseWhitespace);
}
