namespace Curation.Pipelines.Text;

/// <summary>
/// Counts equal slices of one character buffer without making a string of any: open addressing on a caller-given
/// 64-bit hash, equality by the characters themselves (a hash collision costs a comparison, never a wrong answer).
/// Slices are numbered in order of first appearance. Reusable: <see cref="Reset"/> keeps the arrays.
/// </summary>
public sealed class SliceCounts
{
    private int[] _slots = new int[64]; // entry + 1; 0 is empty
    private ulong[] _hashes = new ulong[32];
    private int[] _starts = new int[32], _lengths = new int[32], _counts = new int[32];
    private ReadOnlyMemory<char> _buffer;
    private int _entries;

    /// <summary>Distinct slices seen since the last <see cref="Reset"/>.</summary>
    public int Distinct => _entries;

    /// <summary>Forgets every slice and counts slices of <paramref name="buffer"/> next, expecting about <paramref name="expected"/> distinct ones.</summary>
    public void Reset(ReadOnlyMemory<char> buffer, int expected)
    {
        _buffer = buffer;
        _entries = 0;
        // Twice the slots expected; a table left large by a long document shrinks again, so that clearing it stays
        // proportional to the document at hand.
        var size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(64, expected * 2));
        if (_slots.Length < size || _slots.Length > size * 8) _slots = new int[size];
        else Array.Clear(_slots);
    }

    /// <summary>Counts one occurrence of <c>buffer[start..start+length)</c>; true when it is the first.</summary>
    public bool Add(int start, int length, ulong hash) => Increment(start, length, hash) == 1;

    /// <summary>Counts one occurrence of <c>buffer[start..start+length)</c> and returns its count so far.</summary>
    public int Increment(int start, int length, ulong hash)
    {
        var mask = _slots.Length - 1;
        var slot = (int)(hash ^ (hash >> 29)) & mask;
        var buffer = _buffer.Span;
        var slice = buffer.Slice(start, length);
        while (true)
        {
            var entry = _slots[slot] - 1;
            if (entry < 0) break;
            if (_hashes[entry] == hash && _lengths[entry] == length && slice.SequenceEqual(buffer.Slice(_starts[entry], length)))
                return ++_counts[entry];
            slot = (slot + 1) & mask;
        }
        if (_entries == _hashes.Length) GrowEntries();
        _hashes[_entries] = hash;
        _starts[_entries] = start;
        _lengths[_entries] = length;
        _counts[_entries] = 1;
        _slots[slot] = ++_entries;
        if (_entries * 2 > _slots.Length) Rehash();
        return 1;
    }

    /// <summary>The count of the <paramref name="index"/>-th distinct slice (in order of first appearance).</summary>
    public int CountAt(int index) => _counts[index];

    /// <summary>The length of the <paramref name="index"/>-th distinct slice.</summary>
    public int LengthAt(int index) => _lengths[index];

    private void GrowEntries()
    {
        var size = _hashes.Length * 2;
        Array.Resize(ref _hashes, size);
        Array.Resize(ref _starts, size);
        Array.Resize(ref _lengths, size);
        Array.Resize(ref _counts, size);
    }

    private void Rehash()
    {
        _slots = new int[_slots.Length * 2];
        var mask = _slots.Length - 1;
        for (var entry = 0; entry < _entries; entry++)
        {
            var hash = _hashes[entry];
            var slot = (int)(hash ^ (hash >> 29)) & mask;
            while (_slots[slot] != 0) slot = (slot + 1) & mask;
            _slots[slot] = entry + 1;
        }
    }
}
