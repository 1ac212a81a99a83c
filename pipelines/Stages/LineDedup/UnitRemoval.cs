using System.Buffers;
using System.Text;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// Removes the units apply decided from one document at a time: the listed units by index (as the hash phase found
/// them), and the later copies of a unit the document holds more than once (listed ~negated; only those units are hashed
/// again). On the document's UTF-8 bytes as the shard stores them (<see cref="Find"/> then <see cref="Write"/>: units
/// cut by <see cref="Utf8LineUnits"/>, the kept bytes written in place or into a new text column, no string), or on
/// a decoded text (<see cref="Remove(string, IReadOnlyList{ValueTuple{int, ContentHash}}, int)"/>: for a text that is not
/// valid UTF-8, whose stored form is its decoded text's). Both give the same text, counted in UTF-16 characters as the
/// decoded text counts them. One instance per task: it reuses its buffers from document to document.
/// </summary>
internal sealed class UnitRemoval(LineDedupUnit unit)
{
    private readonly List<LineUnit> _units = [];
    private readonly Utf8LineUnits _hasher = new();
    private bool[] _remove = new bool[64];
    private ContentHash[] _hashes = new ContentHash[64];

    /// <summary>The last document's units (positions in what it was given: characters or bytes).</summary>
    public IReadOnlyList<LineUnit> Units => _units;

    /// <summary>Units of the last document removed.</summary>
    public int Removed { get; private set; }

    /// <summary>The last document's characters, before and after the removal, and after it without surrounding whitespace.</summary>
    public int CharsIn { get; private set; }
    public int CharsKept { get; private set; }
    public int CharsLeft { get; private set; }

    /// <summary>Whether unit <paramref name="index"/> of the last document was removed, and its hash when it was.</summary>
    public bool IsRemoved(int index, out ContentHash hash)
    {
        hash = _hashes[index];
        return _remove[index];
    }

    /// <summary>The decoded <paramref name="text"/> without its lost units.</summary>
    public string Remove(string text, IReadOnlyList<(int Unit, ContentHash Hash)> lost, int row)
    {
        LineUnits.Split(text, unit, _units);
        Mark(lost, row, text, default);
        var kept = LineUnits.Without(text, _units, _remove);
        (CharsIn, CharsKept, CharsLeft) = (text.Length, kept.Length, kept.AsSpan().Trim().Length);
        return kept;
    }

    /// <summary>Cuts the valid UTF-8 <paramref name="text"/> into units and marks its lost ones (then <see cref="Write"/>).</summary>
    public void Find(ReadOnlySpan<byte> text, IReadOnlyList<(int Unit, ContentHash Hash)> lost, int row)
    {
        Utf8LineUnits.Split(text, unit, _units);
        Mark(lost, row, null, text);
        CharsIn = Encoding.UTF8.GetCharCount(text);
    }

    /// <summary>The bytes <see cref="Write"/> writes for the text last given to <see cref="Find"/>, at most.</summary>
    public int KeptLength(int textLength) => LineUnits.KeptLength(textLength, _units, _remove);

    /// <summary>
    /// Writes the text last given to <see cref="Find"/> without its lost units into <paramref name="target"/>: another
    /// buffer of <see cref="KeptLength"/> bytes or more, or the text's own bytes (the kept pieces only move towards its
    /// start); returns the kept length.
    /// </summary>
    public int Write(ReadOnlySpan<byte> text, Span<byte> target)
    {
        var kept = target[..LineUnits.Without(text, _units, _remove, target)];
        (CharsKept, CharsLeft) = (Encoding.UTF8.GetCharCount(kept), TrimmedChars(kept));
        return kept.Length;
    }

    /// <summary>Marks the lost units (by index, and the later copies of a unit listed ~negated, found by hash).</summary>
    private void Mark(IReadOnlyList<(int Unit, ContentHash Hash)> lost, int row, string? text, ReadOnlySpan<byte> bytes)
    {
        var count = _units.Count;
        if (_remove.Length < count)
        {
            _remove = new bool[Math.Max(count, 2 * _remove.Length)];
            _hashes = new ContentHash[_remove.Length];
        }
        Array.Clear(_remove, 0, count);
        foreach (var (listed, hash) in lost)
        {
            var first = listed >= 0 ? listed : ~listed;
            if (first >= count)
                throw new InvalidDataException($"line_dedup: row {row} has {count} units, the hash phase listed unit {first}.");
            (_remove[first], _hashes[first]) = (true, hash);
            if (listed >= 0) continue;
            for (var u = first + 1; u < count; u++)
                if (!_remove[u] && (text is null ? _hasher.Hash(bytes, _units[u]) : LineUnits.Hash(text, _units[u])) == hash)
                    (_remove[u], _hashes[u]) = (true, hash);
        }
        Removed = _remove.AsSpan(0, count).Count(true);
    }

    /// <summary>
    /// The UTF-16 length of valid UTF-8 without its leading and trailing whitespace (<see cref="Rune.IsWhiteSpace"/>, as
    /// <c>span.Trim()</c> decides it for the decoded text).
    /// </summary>
    internal static int TrimmedChars(ReadOnlySpan<byte> utf8)
    {
        while (utf8.Length > 0 && Rune.DecodeFromUtf8(utf8, out var rune, out var length) == OperationStatus.Done && Rune.IsWhiteSpace(rune))
            utf8 = utf8[length..];
        while (utf8.Length > 0 && Rune.DecodeLastFromUtf8(utf8, out var rune, out var length) == OperationStatus.Done && Rune.IsWhiteSpace(rune))
            utf8 = utf8[..^length];
        return Encoding.UTF8.GetCharCount(utf8);
    }
}
