namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// The records of a JSON object's bytes, one at a time, in bounded memory: its lines (<see cref="LineSplitter"/>) or the
/// elements of its one array (<see cref="JsonArraySplitter"/>). The JSON reader drives either the same way.
/// </summary>
internal interface IRecordSplitter : IDisposable
{
    /// <summary>Moves to the next record; false at the end. A read failure of the stream (or a broken array) throws.</summary>
    ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken);

    /// <summary>0-based index of the current record.</summary>
    long Index { get; }

    /// <summary>Records delimited so far (after a failure: the last one read completely, 1-based).</summary>
    long Read { get; }

    /// <summary>The current record's bytes; empty when <see cref="IsTooLong"/>.</summary>
    ReadOnlyMemory<byte> Current { get; }

    /// <summary>The current record exceeded the limit and was skipped unread; <see cref="Bytes"/> says how long it was.</summary>
    bool IsTooLong { get; }

    /// <summary>Bytes of the current record.</summary>
    long Bytes { get; }
}
