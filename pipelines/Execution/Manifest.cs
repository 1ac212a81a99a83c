using Curation.Pipelines.Model;

namespace Curation.Pipelines.Execution;

/// <summary>
/// The last object a job writes, next to its curated shards: what the corpus is made of and how every input record
/// was accounted for. Deterministic (no timestamps): the same job always writes the same manifest.
/// </summary>
public sealed record Manifest
{
    public const string FileName = "manifest.json";

    public required string JobId { get; init; }
    public required string JobName { get; init; }
    public required long Seed { get; init; }
    public required IReadOnlyList<ManifestColumn> Schema { get; init; }
    public required IReadOnlyList<OutputObject> Shards { get; init; }
    public required IReadOnlyList<OutputObject> Drops { get; init; }
    public required IReadOnlyList<OutputObject> Quarantine { get; init; }

    /// <summary>Per shard, the embeddings of its curated documents (when the job embeds); see EmbeddingFile.</summary>
    public IReadOnlyList<OutputObject> Embeddings { get; init; } = [];
    public required Accounting Accounting { get; init; }
    public IReadOnlyList<string> Errors { get; init; } = [];
    public Dictionary<string, Dictionary<string, double>> Metrics { get; init; } = [];

    /// <summary>Training tokens of the corpus and its token files (jobs with train_tokenize and output.tokens); null otherwise.</summary>
    public TokensSection? Tokens { get; init; }

    /// <summary>Structured reports of the stages that write one (semantic_dedup, d4, …), by stage folder.</summary>
    public Dictionary<string, System.Text.Json.JsonElement> Reports { get; init; } = [];

    /// <summary>
    /// For a snapshot of a versioned corpus: the carried-over shards, the input table and the dedup indexes. Every key
    /// of such a manifest (its own shards included) is relative to the corpus root. Null for a plain output.
    /// </summary>
    public SnapshotSection? Snapshot { get; init; }

    /// <summary>The id index of this run's documents, kept and dropped (see IdIndex); null for outputs written before it existed.</summary>
    public IdIndexSection? IdIndex { get; init; }

    /// <summary>Every curated shard of the corpus this manifest describes: its own and, for a snapshot, the carried ones.</summary>
    public IEnumerable<OutputObject> AllShards => Snapshot is null ? Shards : Snapshot.CarriedShards.Concat(Shards);

    /// <summary>Every embeddings file of the corpus this manifest describes.</summary>
    public IEnumerable<OutputObject> AllEmbeddings => Snapshot is null ? Embeddings : Snapshot.CarriedEmbeddings.Concat(Embeddings);
}

/// <summary>What makes a manifest a snapshot of a versioned corpus.</summary>
public sealed record SnapshotSection
{
    public required int Number { get; init; }

    /// <summary>The snapshot's folder relative to the corpus root.</summary>
    public required string Folder { get; init; }

    public int? Previous { get; init; }
    public string? PreviousManifest { get; init; }

    /// <summary>Shards of earlier snapshots that are part of this one, by reference (never copied).</summary>
    public IReadOnlyList<OutputObject> CarriedShards { get; init; } = [];
    public IReadOnlyList<OutputObject> CarriedEmbeddings { get; init; } = [];

    /// <summary>Documents in the carried shards (the previous snapshot's whole corpus).</summary>
    public long CarriedDocuments { get; init; }

    /// <summary>Documents this run added (its books' kept).</summary>
    public long NewDocuments { get; init; }
    public long Documents => CarriedDocuments + NewDocuments;

    /// <summary>Input objects read by this run, and found unchanged and skipped.</summary>
    public int ReadObjects { get; init; }
    public int SkippedObjects { get; init; }
    public int ChangedObjects { get; init; }

    /// <summary>Objects of the corpus' input table this run's inputs no longer listed (their curated documents stay).</summary>
    public int VanishedObjects { get; init; }

    /// <summary>Every input object the corpus has read (key, size and ETag when read): the next refresh skips those unchanged.</summary>
    public IReadOnlyList<PlannedObject> Inputs { get; init; } = [];

    /// <summary>The durable dedup indexes of the corpus as of this snapshot, one object per stage, kind and partition.</summary>
    public IReadOnlyList<SnapshotIndex> Indexes { get; init; } = [];
}

/// <summary>
/// One partition of a durable dedup index (<paramref name="Stage"/>: the stage folder, e.g. <c>03-exact_dedup</c>;
/// <paramref name="Name"/>: <c>hashes</c>, <c>bands</c>, <c>signatures</c>). <paramref name="Key"/> is relative to the
/// corpus root and may lie in an earlier snapshot's folder when the partition did not change (carried by reference).
/// </summary>
public sealed record SnapshotIndex(string Stage, string Name, int Partition, string Key, long Rows, long Bytes);

/// <summary>A column of the curated shards, with its logical type (string, int64, int32, double, float, bool, binary).</summary>
public sealed record ManifestColumn(string Name, string Type)
{
    public static ManifestColumn Of(ColumnSchema column) => new(column.Name, column.Type switch
    {
        var t when t == typeof(string) => "string",
        var t when t == typeof(long) => "int64",
        var t when t == typeof(int) => "int32",
        var t when t == typeof(double) => "double",
        var t when t == typeof(float) => "float",
        var t when t == typeof(bool) => "bool",
        var t when t == typeof(byte[]) => "binary",
        var t when t == typeof(long?) => "int64?",
        var t when t == typeof(double?) => "double?",
        var t when t == typeof(bool?) => "bool?",
        var t when ColumnSchema.ListElementOf(t) is { } element => $"list<{Of(new ColumnSchema("", element)).Type}>",
        var t => t.Name,
    });
}

/// <summary>The job's books: per stage, in = kept + dropped + quarantined, and each stage's in is the previous kept.</summary>
public sealed record Accounting
{
    public required IReadOnlyList<StageAccount> Stages { get; init; }
    public long InputRecords => Stages.Count == 0 ? 0 : Stages[0].In;
    public long Kept => Stages.Count == 0 ? 0 : Stages[^1].Kept;
    public long Dropped => Stages.Sum(s => s.Dropped.Values.Sum());
    public long Quarantined => Stages.Sum(s => s.Quarantined.Values.Sum());

    /// <summary>Every break of the books, as sentences; empty when they balance.</summary>
    public IReadOnlyList<string> Imbalances()
    {
        var problems = new List<string>();
        for (var i = 0; i < Stages.Count; i++)
        {
            var s = Stages[i];
            var outSum = s.Kept + s.Dropped.Values.Sum() + s.Quarantined.Values.Sum();
            if (s.In != outSum) problems.Add($"{s.Stage}: in {s.In} ≠ kept {s.Kept} + dropped {s.Dropped.Values.Sum()} + quarantined {s.Quarantined.Values.Sum()}");
            if (i > 0 && s.In != Stages[i - 1].Kept) problems.Add($"{s.Stage}: in {s.In} ≠ {Stages[i - 1].Stage} kept {Stages[i - 1].Kept}");
        }
        return problems;
    }
}

public sealed record StageAccount(string Stage, long In, long Kept, Dictionary<string, long> Dropped, Dictionary<string, long> Quarantined);

public sealed class AccountingException(string jobId, IReadOnlyList<string> problems)
    : Exception($"Job {jobId} does not balance: {string.Join("; ", problems)}")
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
