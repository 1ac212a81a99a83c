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

/// <summary>Opens the right <see cref="IRecordSplitter"/> for a JSON object: one place decides lines or array elements.</summary>
internal static class RecordSplitters
{
    /// <summary>
    /// Looks at the first bytes of <paramref name="stream"/> (handed back through a <see cref="PrefixedStream"/>) and
    /// splits it into the elements of its one JSON array, or else into lines; <c>Unit</c> ("element" or "line") is how
    /// details name a record. A byte part (<see cref="PartUnit.Bytes"/>) is always lines: the planner never cuts an array
    /// into ranges. A failure to read the first bytes throws.
    /// </summary>
    public static async Task<(IRecordSplitter Splitter, string Unit)> OpenAsync(Stream stream, int maxRecordBytes, ObjectPart? part,
        CancellationToken cancellationToken)
    {
        if (part is { Unit: PartUnit.Bytes }) return (new LineSplitter(stream, maxRecordBytes, part), "line");
        var (layout, prefix) = await JsonArraySplitter.LayoutAsync(stream, cancellationToken).ConfigureAwait(false);
        var rest = prefix.Length == 0 ? stream : new PrefixedStream(prefix, stream);
        return layout switch
        {
            JsonLayout.Array => (new JsonArraySplitter(rest, maxRecordBytes), "element"),
            JsonLayout.Sequence => (new JsonArraySplitter(rest, maxRecordBytes, JsonLayout.Sequence), "value"),
            _ => (new LineSplitter(rest, maxRecordBytes, part), "line"),
        };
    }
}
