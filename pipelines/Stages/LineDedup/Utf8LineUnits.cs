using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// <see cref="LineUnits"/> on a document's UTF-8 bytes, as the shard stores them, for the hash phase: the same units in
/// the same order (so a unit's index is the one <see cref="LineUnits.Split(string, LineDedupUnit, List{LineUnit})"/> gives on the decoded text) with the same
/// hashes, without decoding the document into a string. A unit of ASCII only (ASCII is already NFC) is normalised and
/// hashed straight from its bytes: lower-cased, control characters dropped, whitespace runs collapsed, exactly as
/// <see cref="ContentHash"/> does; so is a unit of characters below U+0300 (Latin-1, Latin Extended: NFC too), lowered
/// by <see cref="ContentHash"/>'s own table instead of a call into ICU; any other unit is decoded alone into a reused character buffer (no string) and hashed
/// by <see cref="ContentHash.Of(ReadOnlySpan{char}, bool, bool)"/>, the mechanism <see cref="LineUnits.Hash"/> uses. Units are
/// cut at line feeds, which are never part of a multi-byte sequence, so a unit decodes to the same characters alone as
/// inside its document (an invalid sequence too: the decoder replaces it the same way).
/// </summary>
internal sealed class Utf8LineUnits
{
    private byte[] _scratch = new byte[1024];
    private char[] _chars = new char[1024];

    /// <summary>The units of <paramref name="text"/> as <see cref="LineUnits.Split(string, LineDedupUnit, List{LineUnit})"/> cuts them, as byte ranges.</summary>
    public static void Split(ReadOnlySpan<byte> text, LineDedupUnit unit, List<LineUnit> units) => LineUnits.Split(text, unit, units, IsBlank);

    /// <summary>The unit's hash: the one <see cref="LineUnits.Hash"/> gives for the same unit of the decoded text.</summary>
    public ContentHash Hash(ReadOnlySpan<byte> text, LineUnit unit)
    {
        var bytes = text[unit.Start..unit.End];
        if (_scratch.Length < bytes.Length) _scratch = new byte[Math.Max(bytes.Length, 2 * _scratch.Length)];
        var target = _scratch;
        // The common line: printable ASCII, single spaces between words, none at either end. Its normal form is its
        // lower case: one vectorised check and one vectorised copy instead of a loop over its bytes.
        if (bytes.Length > 0 && bytes.IndexOfAnyExceptInRange((byte)' ', (byte)'~') < 0 && bytes[0] != ' ' && bytes[^1] != ' ' && bytes.IndexOf("  "u8) < 0)
        {
            Ascii.ToLower(bytes, target, out var lowered);
            return Of(target.AsSpan(0, lowered));
        }
        if (!Ascii.IsValid(bytes)) return TryHashBelowNfcLimit(bytes, out var hash) ? hash : HashDecoded(bytes);
        var length = 0;
        var pendingSpace = false;
        foreach (var b in bytes)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f')
            {
                pendingSpace = length > 0;
                continue;
            }
            if (b < 32 || b == 127) continue;
            if (pendingSpace) { target[length++] = (byte)' '; pendingSpace = false; }
            target[length++] = (uint)(b - 'A') <= 'Z' - 'A' ? (byte)(b | 0x20) : b;
        }
        return Of(target.AsSpan(0, length));
    }

    /// <summary>
    /// A unit of ASCII and two-byte sequences below U+0300 (Latin-1 and Latin Extended: accented European text, NFC as it
    /// is) hashed from its bytes: each character lowered and classed by <see cref="ContentHash.FoldBelowNfcLimit"/> (a
    /// table, where the text path asks ICU to lower the unit), whitespace collapsed, written back as UTF-8 (a lowered
    /// character may lie above U+07FF: three bytes). False at the first byte of anything else (a character from U+0300 on,
    /// an invalid sequence): the unit is decoded instead.
    /// </summary>
    private bool TryHashBelowNfcLimit(ReadOnlySpan<byte> bytes, out ContentHash hash)
    {
        var most = 3 * bytes.Length / 2 + 3;
        if (_scratch.Length < most) _scratch = new byte[Math.Max(most, 2 * _scratch.Length)];
        var target = _scratch;
        var length = 0;
        var pendingSpace = false;
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            char c;
            if (b < 0x80) c = (char)b;
            else if ((uint)(b - 0xC2) <= 0xCB - 0xC2 && i + 1 < bytes.Length && (bytes[i + 1] & 0xC0) == 0x80) c = (char)(((b & 0x1F) << 6) | (bytes[++i] & 0x3F));
            else
            {
                hash = default;
                return false;
            }
            var (lower, kind) = ContentHash.FoldBelowNfcLimit(c);
            if (kind == ContentHash.CharKind.Invisible) continue;
            if (kind == ContentHash.CharKind.Space)
            {
                pendingSpace = length > 0;
                continue;
            }
            if (pendingSpace) { target[length++] = (byte)' '; pendingSpace = false; }
            if (lower < 0x80) target[length++] = (byte)lower;
            else length += new Rune(lower).EncodeToUtf8(target.AsSpan(length)); // a lowered character is never a surrogate
        }
        hash = Of(target.AsSpan(0, length));
        return true;
    }

    /// <summary>
    /// A unit holding non-ASCII bytes: decoded as <see cref="Encoding.GetString(ReadOnlySpan{byte})"/> decodes it (an invalid
    /// sequence to U+FFFD) but into the reused buffer, and hashed from there.
    /// </summary>
    private ContentHash HashDecoded(ReadOnlySpan<byte> bytes)
    {
        var most = Encoding.UTF8.GetMaxCharCount(bytes.Length);
        if (_chars.Length < most) _chars = new char[Math.Max(most, 2 * _chars.Length)];
        var decoded = Encoding.UTF8.GetChars(bytes, _chars);
        return ContentHash.Of(_chars.AsSpan(0, decoded), caseFold: true, collapseWhitespace: true);
    }

    /// <summary>The hash of normalised bytes, as <see cref="ContentHash.Of(ReadOnlySpan{char}, bool, bool)"/> computes it.</summary>
    private static ContentHash Of(ReadOnlySpan<byte> normalised)
    {
        var hash = XxHash128.HashToUInt128(normalised);
        return new ContentHash((long)(ulong)(hash >> 64), (long)(ulong)hash);
    }

    /// <summary>Whether the line is all whitespace (<see cref="char.IsWhiteSpace(char)"/>, as <see cref="LineUnits"/> decides).</summary>
    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        var ascii = true;
        foreach (var b in line)
        {
            if (b >= 0x80) ascii = false;
            else if (b != (byte)' ' && (b < 9 || b > 13)) return false;
        }
        if (ascii) return true;
        var chars = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(line.Length));
        try
        {
            return chars.AsSpan(0, Encoding.UTF8.GetChars(line, chars)).IsWhiteSpace();
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}
