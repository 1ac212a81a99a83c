using System.Text;

namespace Curation.Pipelines.Model;

/// <summary>
/// The values of a string column as the UTF-8 bytes a Parquet file stores them as: one buffer and each row's slice of it
/// (or null). A column read from a shard holds them until something asks for its strings (<see cref="Column{T}.List"/>);
/// a pass that only selects rows or adds columns writes the same bytes back without ever making a string.
/// </summary>
internal sealed class Utf8Values
{
    private readonly byte[] _buffer;
    private readonly int[] _starts;
    private readonly int[] _lengths; // -1: null

    /// <summary>Whether another instance reads the same buffer (<see cref="Select"/>): then no row is rewritten in place.</summary>
    private bool _shared;

    private Utf8Values(byte[] buffer, int[] starts, int[] lengths)
    {
        _buffer = buffer;
        _starts = starts;
        _lengths = lengths;
    }

    public int Count => _starts.Length;

    /// <summary>
    /// A copy of <paramref name="values"/> (the non-null values in row order, as a Parquet reader returns them) laid out over
    /// <paramref name="rows"/> rows by <paramref name="levels"/> (null: no nulls; a row is null where its level is below
    /// <paramref name="maxLevel"/>); a null row becomes an empty value when <paramref name="nullAsEmpty"/>. Null when the
    /// values do not fit one array (over 2 GB): the caller decodes them one by one instead.
    /// </summary>
    public static Utf8Values? CopyOf(ReadOnlySpan<ReadOnlyMemory<byte>> values, int rows, int[]? levels, int maxLevel, bool nullAsEmpty)
    {
        var total = 0L;
        var present = levels is null ? rows : levels.AsSpan(0, rows).Count(maxLevel);
        foreach (var value in values[..present]) total += value.Length;
        if (total > Array.MaxLength) return null;
        var buffer = GC.AllocateUninitializedArray<byte>((int)total);
        var (starts, lengths) = (new int[rows], new int[rows]);
        var (at, next) = (0, 0);
        for (var row = 0; row < rows; row++)
        {
            starts[row] = at;
            if (levels is not null && levels[row] < maxLevel)
            {
                lengths[row] = nullAsEmpty ? 0 : -1;
                continue;
            }
            var value = values[next++].Span;
            value.CopyTo(buffer.AsSpan(at));
            lengths[row] = value.Length;
            at += value.Length;
        }
        return new Utf8Values(buffer, starts, lengths);
    }

    public bool IsNull(int row) => _lengths[row] < 0;

    /// <summary>The UTF-8 of <paramref name="row"/> (empty for null).</summary>
    public ReadOnlySpan<byte> Span(int row) => _buffer.AsSpan(_starts[row], Math.Max(0, _lengths[row]));

    /// <summary>The UTF-8 of <paramref name="row"/>, or null.</summary>
    public ReadOnlyMemory<byte>? Memory(int row)
    {
        if (_lengths[row] < 0) return null;
        return new ReadOnlyMemory<byte>(_buffer, _starts[row], _lengths[row]);
    }

    /// <summary>The string of <paramref name="row"/> (invalid sequences replaced, as Parquet.Net's own decoder does), or null.</summary>
    public string? GetString(int row) => _lengths[row] < 0 ? null : Encoding.UTF8.GetString(_buffer, _starts[row], _lengths[row]);

    /// <summary>The bytes of every value together.</summary>
    public long TotalBytes()
    {
        var total = 0L;
        foreach (var length in _lengths) total += Math.Max(0, length);
        return total;
    }

    /// <summary>The given rows, in the given order, over the same buffer (no byte is copied).</summary>
    public Utf8Values Select(IReadOnlyList<int> rows)
    {
        var (starts, lengths) = (new int[rows.Count], new int[rows.Count]);
        for (var i = 0; i < starts.Length; i++) (starts[i], lengths[i]) = (_starts[rows[i]], _lengths[rows[i]]);
        _shared = true;
        return new Utf8Values(_buffer, starts, lengths) { _shared = true };
    }

    /// <summary>Whether rows may be rewritten in place (<see cref="Writable"/>): no other instance shares the buffer.</summary>
    public bool OwnsBuffer => !_shared;

    /// <summary>
    /// The bytes of non-null <paramref name="row"/>, to rewrite in place into a value no longer than it (then
    /// <see cref="Shorten"/>): for a pass that only takes bytes out of values (line_dedup's apply), so nothing is copied
    /// or allocated for the rows it leaves alone. Only while <see cref="OwnsBuffer"/>.
    /// </summary>
    public Span<byte> Writable(int row)
    {
        if (_shared) throw new InvalidOperationException("The values share their buffer: a row cannot be rewritten in place.");
        if (_lengths[row] < 0) throw new InvalidOperationException($"Row {row} is null: it has no bytes to rewrite.");
        return _buffer.AsSpan(_starts[row], _lengths[row]);
    }

    /// <summary>Ends <paramref name="row"/>'s value after its first <paramref name="length"/> bytes (rewritten by <see cref="Writable"/>).</summary>
    public void Shorten(int row, int length)
    {
        if ((uint)length > (uint)_lengths[row]) throw new ArgumentOutOfRangeException(nameof(length), $"Row {row} holds {_lengths[row]} bytes, not {length}.");
        _lengths[row] = length;
    }

    /// <summary>
    /// Builds values row by row into one buffer (grown as needed): for a pass that rewrites a string column on its bytes
    /// (line_dedup's apply) and keeps it as UTF-8 for the writer, never making a string.
    /// </summary>
    public sealed class Builder(int rows, int bytes)
    {
        private byte[] _buffer = GC.AllocateUninitializedArray<byte>(Math.Max(16, bytes));
        private readonly int[] _starts = new int[rows];
        private readonly int[] _lengths = new int[rows];
        private int _rows;
        private int _at;

        /// <summary>Room for <paramref name="bytes"/> more bytes of the next row: write them there, then <see cref="Commit"/>.</summary>
        public Span<byte> Reserve(int bytes)
        {
            if (_buffer.Length - _at < bytes)
            {
                var size = Math.Max((long)_at + bytes, Math.Min(Array.MaxLength, 2L * _buffer.Length));
                if (size > Array.MaxLength) throw new InvalidOperationException($"Rewritten values of {size:N0} bytes do not fit one array.");
                var grown = GC.AllocateUninitializedArray<byte>((int)size);
                _buffer.AsSpan(0, _at).CopyTo(grown);
                _buffer = grown;
            }
            return _buffer.AsSpan(_at, bytes);
        }

        /// <summary>Ends the next row: the first <paramref name="length"/> bytes written to the last <see cref="Reserve"/>.</summary>
        public void Commit(int length)
        {
            _starts[_rows] = _at;
            _lengths[_rows++] = length;
            _at += length;
        }

        public void Add(ReadOnlySpan<byte> value)
        {
            value.CopyTo(Reserve(value.Length));
            Commit(value.Length);
        }

        public void AddNull()
        {
            _starts[_rows] = _at;
            _lengths[_rows++] = -1;
        }

        /// <summary>The values, once every row is added.</summary>
        public Utf8Values Build()
        {
            if (_rows != _starts.Length) throw new InvalidOperationException($"{_rows} of {_starts.Length} rows were added.");
            return new Utf8Values(_buffer, _starts, _lengths);
        }
    }
}
