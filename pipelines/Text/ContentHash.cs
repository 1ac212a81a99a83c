using System.Globalization;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Text;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Text;

/// <summary>
/// The key exact dedup compares: a 128-bit XxHash3 of the text in NFC without invisible characters (controls and
/// format characters such as ZWJ/ZWNJ, which normalisation keeps because some scripts need them), optionally
/// lower-cased (invariant culture) and with whitespace runs collapsed. 128 bits keep the chance of any false match in 10^12 documents below 10^-14.
/// </summary>
public readonly record struct ContentHash(long High, long Low)
{
    public static ContentHash Of(string text, bool caseFold, bool collapseWhitespace) => Of(text.AsSpan(), caseFold, collapseWhitespace);

    /// <summary>
    /// The hash of <paramref name="text"/>'s characters, the one mechanism: normalised (when not already NFC), lowered and
    /// filtered in scratch buffers, so a caller holding characters (a decoded line in a reused buffer) needs no string.
    /// </summary>
    public static ContentHash Of(ReadOnlySpan<char> text, bool caseFold, bool collapseWhitespace)
    {
        char[]? normalised = null;
        if (!IsNfc(text))
        {
            normalised = ScratchArray.Rent<char>(text.GetNormalizedLength(NormalizationForm.FormC));
            text.TryNormalize(normalised, out var written, NormalizationForm.FormC);
            text = normalised.AsSpan(0, written);
        }
        var chars = ScratchArray.Rent<char>(Math.Max(1, text.Length));
        var bytes = ScratchArray.Rent<byte>(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            var source = text;
            if (caseFold)
            {
                // Whole-span lowering handles surrogate pairs; the result has the same length.
                text.ToLowerInvariant(chars);
                source = chars.AsSpan(0, text.Length);
            }
            var length = 0;
            var pendingSpace = false;
            foreach (var c in source)
            {
                var kind = KindOf(c);
                if (kind == CharKind.Invisible) continue;
                if (kind == CharKind.Space && collapseWhitespace) { pendingSpace = length > 0; continue; }
                if (pendingSpace) { chars[length++] = ' '; pendingSpace = false; }
                chars[length++] = c; // writes never overtake reads: length only grows as fast as the loop
            }
            var encoded = Encoding.UTF8.GetBytes(chars.AsSpan(0, length), bytes);
            var hash = XxHash128.HashToUInt128(bytes.AsSpan(0, encoded));
            return new ContentHash((long)(ulong)(hash >> 64), (long)(ulong)hash);
        }
        finally
        {
            ScratchArray.Return(chars);
            ScratchArray.Return(bytes);
            if (normalised is not null) ScratchArray.Return(normalised);
        }
    }

    /// <summary>What the hash does with a character (after lowering): keeps it, drops it, or (collapsing whitespace) makes it one space.</summary>
    internal enum CharKind : byte { Kept, Invisible, Space }

    /// <summary>
    /// ASCII whitespace is a space; other ASCII controls and DEL, format characters (ZWJ, soft hyphen…) and controls
    /// that are not whitespace are invisible; other whitespace is a space.
    /// </summary>
    /// <remarks>Inlined into the hash's loop over every character (the ASCII test stays there); the rest is a call, as it was.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static CharKind KindOf(char c) => c < 128
        ? c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f' ? CharKind.Space : c < 32 || c == 127 ? CharKind.Invisible : CharKind.Kept
        : KindOfNonAscii(c);

    private static CharKind KindOfNonAscii(char c)
    {
        if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format || (char.IsControl(c) && !char.IsWhiteSpace(c))) return CharKind.Invisible;
        return char.IsWhiteSpace(c) ? CharKind.Space : CharKind.Kept;
    }

    /// <summary>Characters below this one are NFC alone and in any sequence (see <see cref="IsNfc"/>).</summary>
    internal const char NfcBelow = '\u0300';

    private static readonly (char Lower, CharKind Kind)[] BelowNfcLimit = BuildBelowNfcLimit();

    private static (char, CharKind)[] BuildBelowNfcLimit()
    {
        var table = new (char, CharKind)[NfcBelow];
        for (var c = '\0'; c < NfcBelow; c++)
        {
            var lower = char.ToLowerInvariant(c);
            table[c] = (lower, KindOf(lower));
        }
        return table;
    }

    /// <summary>
    /// For a character below <see cref="NfcBelow"/> (ASCII, Latin-1, Latin Extended): its invariant lower case, as the
    /// case-folding hash lowers it (ICU's simple mapping, code point by code point, looked up once per character into a
    /// table), and what the hash does with that; for a caller hashing such text without a span lowering per unit.
    /// </summary>
    internal static (char Lower, CharKind Kind) FoldBelowNfcLimit(char c) => BelowNfcLimit[c];

    /// <summary>
    /// Whether <paramref name="text"/> is in NFC. Text below U+0300 (ASCII, Latin-1, Latin Extended: most accented web
    /// text) always is: every such code point has NFC_QC=Yes and combining class 0, and nothing composes with a preceding
    /// character unless it is a combining mark or a Hangul jamo, all at U+0300 or above. One vectorised scan decides it
    /// without asking ICU; any other text is checked by <see cref="string.IsNormalized(NormalizationForm)"/>'s span form.
    /// </summary>
    private static bool IsNfc(ReadOnlySpan<char> text) =>
        text.IndexOfAnyInRange(NfcBelow, char.MaxValue) < 0 || text.IsNormalized(NormalizationForm.FormC);

    /// <summary>Partition of this hash among <paramref name="partitions"/>: uniform because the hash is.</summary>
    public int PartitionOf(int partitions) => (int)((ulong)High % (ulong)partitions);

    public override string ToString() => $"{(ulong)High:x16}{(ulong)Low:x16}";

    /// <summary>The hash <see cref="ToString"/> wrote (32 hex digits).</summary>
    public static ContentHash Parse(string hex)
    {
        if (hex.Length != 32) throw new FormatException($"A content hash is 32 hex digits, not '{hex}'.");
        return new ContentHash((long)ulong.Parse(hex.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture),
            (long)ulong.Parse(hex.AsSpan(16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
    }
}
