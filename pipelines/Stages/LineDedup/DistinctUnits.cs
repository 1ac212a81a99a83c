using System.Numerics;
using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>
/// The distinct unit hashes of one document, in the order of their first unit, each with that unit's index, ~negated
/// (negative) when the document holds the unit more than once (so apply looks for the later copies of that hash only).
/// A small open-addressed table reused from document to document: no dictionary to clear and no allocation per document.
/// </summary>
internal sealed class DistinctUnits
{
    private ContentHash[] _hashes = new ContentHash[32];
    private int[] _units = new int[32];
    private int[] _slots = new int[64]; // 1 + the entry's index; 0: empty
    private int _mask;

    public int Count { get; private set; }

    public ContentHash Hash(int index) => _hashes[index];

    /// <summary>The index of the entry's first unit; ~index when the unit occurs more than once.</summary>
    public int Unit(int index) => _units[index];

    /// <summary>Empties the table for a document of <paramref name="units"/> units.</summary>
    public void Reset(int units)
    {
        Count = 0;
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, 2 * units));
        if (_slots.Length < size)
        {
            _slots = new int[size];
            _hashes = new ContentHash[size / 2];
            _units = new int[size / 2];
        }
        else Array.Clear(_slots, 0, size);
        _mask = size - 1;
    }

    /// <summary>Adds unit <paramref name="unit"/> with hash <paramref name="hash"/> (units arrive in order).</summary>
    public void Add(ContentHash hash, int unit)
    {
        var slot = (int)hash.Low & _mask;
        while (_slots[slot] is var entry and > 0)
        {
            if (_hashes[entry - 1] == hash)
            {
                if (_units[entry - 1] >= 0) _units[entry - 1] = ~_units[entry - 1];
                return;
            }
            slot = (slot + 1) & _mask;
        }
        _hashes[Count] = hash;
        _units[Count] = unit;
        _slots[slot] = ++Count;
    }
}
