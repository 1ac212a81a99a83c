using System.Buffers;
using System.Text;

namespace Curation.Pipelines.Reports;

/// <summary>
/// <see cref="CorpusReport.TextElements"/> over a text's UTF-8, without making its string: the same count for the same
/// text. An ASCII byte is an ASCII character and every byte of a longer sequence is 0x80 or above, so a run of ASCII
/// characters each followed by another is found on the bytes (vectorised) and counted as the string version counts it (one
/// cluster each, CR LF one). Between two ASCII characters other than CR LF there is always a cluster boundary (no ASCII
/// character extends, joins or prepends), so what is left splits at such pairs into stretches segmented on their own: each
/// is decoded (into a pooled buffer) and walked exactly as the string version walks it.
/// </summary>
internal static class Utf8TextElements
{
    public static int Count(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        var i = 0;
        while (i < utf8.Length)
        {
            var rest = utf8[i..];
            // A run of ASCII characters each followed by an ASCII one (or the end): one cluster each, CR LF one (vectorised).
            var nonAscii = rest.IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
            var run = nonAscii < 0 ? rest.Length : nonAscii - 1;
            if (run > 0)
            {
                if (run < rest.Length && rest[run - 1] == '\r' && rest[run] == '\n') run++; // a CR LF is one cluster even before non-ASCII
                count += run - rest[..run].Count("\r\n"u8);
                i += run;
                continue;
            }
            var end = StretchEnd(utf8, i);
            count += CountDecoded(utf8[i..end]);
            i = end;
        }
        return count;
    }

    /// <summary>The first position after <paramref name="start"/> with an ASCII character before it and after it, not CR LF (or the end).</summary>
    private static int StretchEnd(ReadOnlySpan<byte> utf8, int start)
    {
        for (var j = start + 1; j < utf8.Length; j++)
            if (utf8[j] < 0x80 && utf8[j - 1] < 0x80 && !(utf8[j - 1] == '\r' && utf8[j] == '\n')) return j;
        return utf8.Length;
    }

    private static int CountDecoded(ReadOnlySpan<byte> stretch)
    {
        var buffer = ArrayPool<char>.Shared.Rent(Math.Max(1, Encoding.UTF8.GetCharCount(stretch)));
        try
        {
            return CorpusReport.TextElements(buffer.AsSpan(0, Encoding.UTF8.GetChars(stretch, buffer)));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}
