namespace Curation.Pipelines.Stages;

/// <summary>
/// Reads many small byte ranges of a seekable stream (the rows a task needs from a row-addressable file) with few
/// reads: neighbouring ranges less than a gap apart are read as one run, so a dense set of rows costs one sequential
/// read and a sparse one a seek per row, never a read call per row.
/// </summary>
internal static class ByteRanges
{
    private const int MaxGap = 64 * 1024;
    private const int MaxRun = 8 * 1024 * 1024;

    /// <summary>The bytes of each range, in the given order; ranges must be sorted by position.</summary>
    public static async Task<byte[][]> ReadAsync(Stream input, IReadOnlyList<(long Position, int Length)> ranges, CancellationToken cancellationToken)
    {
        var result = new byte[ranges.Count][];
        for (var first = 0; first < ranges.Count;)
        {
            var start = ranges[first].Position;
            var end = start + ranges[first].Length;
            var last = first + 1;
            for (; last < ranges.Count; last++)
            {
                var (position, length) = ranges[last];
                if (position < start) throw new ArgumentException("byte ranges must be sorted by position", nameof(ranges));
                if (position - end > MaxGap || position + length - start > MaxRun) break;
                end = Math.Max(end, position + length);
            }
            var run = new byte[end - start];
            input.Position = start;
            await input.ReadExactlyAsync(run, cancellationToken).ConfigureAwait(false);
            for (var i = first; i < last; i++) result[i] = run.AsSpan((int)(ranges[i].Position - start), ranges[i].Length).ToArray();
            first = last;
        }
        return result;
    }
}
