using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace Curation.Pipelines.Text;

/// <summary>
/// The key exact dedup compares: a 128-bit XxHash3 of the text in NFC without invisible characters (controls and
/// format characters such as ZWJ/ZWNJ, which normalisation keeps because some scripts need them), optionally
/// case-folded and with whitespace runs collapsed. 128 bits keep the chance of any false match in 10^12 documents below 10^-14.
/// </summary>
public readonly record struct ContentHash(long High, long Low)
{
    public static ContentHash Of(string text, bool caseFold, bool collapseWhitespace)
    {
        var canonical = text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        var key = new StringBuilder(canonical.Length);
        var pendingSpace = false;
        foreach (var raw in canonical)
        {
            if (char.IsControl(raw) && !char.IsWhiteSpace(raw)) continue;
            if (System.Globalization.CharUnicodeInfo.GetUnicodeCategory(raw) == System.Globalization.UnicodeCategory.Format) continue;
            if (collapseWhitespace && char.IsWhiteSpace(raw)) { pendingSpace = key.Length > 0; continue; }
            if (pendingSpace) { key.Append(' '); pendingSpace = false; }
            key.Append(caseFold ? char.ToLowerInvariant(raw) : raw);
        }
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(key.ToString(), buffer);
            var hash = XxHash128.HashToUInt128(buffer.AsSpan(0, written));
            return new ContentHash((long)(ulong)(hash >> 64), (long)(ulong)hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Partition of this hash among <paramref name="partitions"/>: uniform because the hash is.</summary>
    public int PartitionOf(int partitions) => (int)((ulong)High % (ulong)partitions);

    public override string ToString() => $"{(ulong)High:x16}{(ulong)Low:x16}";
}
