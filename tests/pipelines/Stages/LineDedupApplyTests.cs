using System.Text;
using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Tests.Text;
using Curation.Pipelines.Text;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// line_dedup's apply on the texts' UTF-8 bytes (in place, or rebuilt where a text is not valid UTF-8 or the buffer is
/// shared) against the same transform on decoded strings: the same stored bytes, lines_removed, drops (with their
/// details), samples and counts, on random texts in every script with Unicode whitespace, CR LF, blank lines, repeated
/// lines and invalid UTF-8, for lines and paragraphs.
/// </summary>
public sealed class LineDedupApplyTests(ITestOutputHelper output)
{
    private static readonly string[] Separators = ["\n", "\r\n", "\n\n", "\n \n", "\n\u3000\n", "\r\n\r\n", "\n\t\u00A0\n"];
    private static readonly string[] Edges = ["", "", " ", "\u00A0", "\u3000 ", "\n", "\r\n", "\u2028"];

    [Theory]
    [InlineData(LineDedupUnit.Line, false)]
    [InlineData(LineDedupUnit.Paragraph, false)]
    [InlineData(LineDedupUnit.Line, true)]
    [InlineData(LineDedupUnit.Paragraph, true)]
    public void The_bytes_path_writes_what_the_string_path_writes(LineDedupUnit unit, bool withInvalid)
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var spec = new LineDedupStageSpec { Unit = unit, MinChars = 12 };
        var paths = new Dictionary<string, int>();
        for (var round = 0; round < 40; round++)
        {
            var texts = Enumerable.Range(0, random.Next(1, 80)).Select(_ => Document(random, withInvalid)).ToList();
            var (removals, top) = Removals(texts, unit, random);

            // The string path: the transform on a column of decoded strings (as the apply was before it worked on bytes).
            var expected = Batch(texts, utf8: false);
            var byStrings = new LineDedupStage.RemoveUnits(spec, removals, top);
            var expectedDrops = new DropCollector(expected, "line_dedup");
            byStrings.Process(expected, expectedDrops);
            Assert.Null(expected.Texts.Utf8);

            // The bytes path, on a buffer of its own (in place) or shared by a selection of its rows (rebuilt).
            var shared = random.Next(4) == 0;
            var actual = Batch(texts, utf8: true);
            if (shared) _ = actual.Texts.Utf8!.Select([0]);
            var byBytes = new LineDedupStage.RemoveUnits(spec, removals, top);
            var actualDrops = new DropCollector(actual, "line_dedup");
            byBytes.Process(actual, actualDrops);
            var utf8 = actual.Texts.Utf8;
            Assert.NotNull(utf8); // never decoded into strings
            var path = shared || texts.Any(t => !System.Text.Unicode.Utf8.IsValid(t)) ? "rebuilt" : "in place";
            paths[path] = paths.GetValueOrDefault(path) + 1;

            for (var row = 0; row < texts.Count; row++)
            {
                var want = Encoding.UTF8.GetBytes(expected.Texts[row]);
                Assert.True(want.AsSpan().SequenceEqual(utf8.Span(row)),
                    $"round {round} row {row} ({path}): {Convert.ToHexString(utf8.Span(row))} instead of {Convert.ToHexString(want)}");
            }
            Assert.Equal(expected.GetColumn<int>(LineDedupStage.LinesRemovedColumn).List, actual.GetColumn<int>(LineDedupStage.LinesRemovedColumn).List);
            Assert.Equal(Rows(expectedDrops.ToDropsBatch()), Rows(actualDrops.ToDropsBatch()));
            Assert.Equal(byStrings.Samples, byBytes.Samples);
            Assert.Equal((byStrings.UnitsRemoved, byStrings.CharsRemoved, byStrings.CharsIn, byStrings.DocumentsChanged),
                (byBytes.UnitsRemoved, byBytes.CharsRemoved, byBytes.CharsIn, byBytes.DocumentsChanged));
        }
        output.WriteLine(string.Join(", ", paths.Select(p => $"{p.Key}: {p.Value} batches")));
        Assert.True(paths.ContainsKey("in place") || withInvalid);
        Assert.True(paths.ContainsKey("rebuilt"));
    }

    [Fact]
    public void Trimmed_characters_of_utf8_count_as_the_decoded_text_trims()
    {
        string[] texts = ["", " ", "\u00A0\u3000", " a ", "\u2028x\u2029", "\u3000日本\u3000", "\u0085\U0001F44D\u0085", "x\u200B", "\t\r\n y \r\n"];
        foreach (var text in texts)
            Assert.Equal(text.AsSpan().Trim().Length, UnitRemoval.TrimmedChars(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Lines in every script (invalid UTF-8 only when asked), some repeated, joined by line breaks and blank lines.</summary>
    private static byte[] Document(Random random, bool withInvalid)
    {
        var lines = new List<byte[]>();
        for (var count = random.Next(0, 14); lines.Count < count;)
        {
            if (lines.Count > 0 && random.Next(4) == 0) lines.Add(lines[random.Next(lines.Count)]);
            else if (random.Next(3) == 0) lines.Add(Encoding.UTF8.GetBytes($"Cookie notice {random.Next(5)}: we use cookies."));
            else
            {
                byte[] line;
                do line = ScriptLines.Line(random, 6);
                while (!withInvalid && !System.Text.Unicode.Utf8.IsValid(line));
                lines.Add([.. line.Where(b => b != (byte)'\n')]);
            }
        }
        var text = new List<byte>(Encoding.UTF8.GetBytes(Edges[random.Next(Edges.Length)]));
        for (var i = 0; i < lines.Count; i++)
        {
            if (i > 0) text.AddRange(Encoding.UTF8.GetBytes(Separators[random.Next(Separators.Length)]));
            text.AddRange(lines[i]);
        }
        text.AddRange(Encoding.UTF8.GetBytes(Edges[random.Next(Edges.Length)]));
        return [.. text];
    }

    /// <summary>
    /// Random units lost per row, listed as the hash phase lists them (the first unit of each distinct hash, ~negated when
    /// the row holds it more than once), and about half of the lost hashes as the job's most repeated.
    /// </summary>
    private static (Dictionary<int, List<(int Unit, ContentHash Hash)>> Removals, HashSet<ContentHash> Top) Removals(List<byte[]> texts, LineDedupUnit unit, Random random)
    {
        var removals = new Dictionary<int, List<(int Unit, ContentHash Hash)>>();
        var top = new HashSet<ContentHash>();
        var units = new List<LineUnit>();
        for (var row = 0; row < texts.Count; row++)
        {
            var text = Encoding.UTF8.GetString(texts[row]);
            LineUnits.Split(text, unit, units);
            var distinct = new Dictionary<ContentHash, int>();
            for (var u = 0; u < units.Count; u++)
            {
                var hash = LineUnits.Hash(text, units[u]);
                if (!distinct.TryAdd(hash, u) && distinct[hash] >= 0) distinct[hash] = ~distinct[hash];
            }
            if (distinct.Count == 0 || random.Next(4) == 0) continue;
            var lost = distinct.Where(_ => random.Next(3) == 0).Select(d => (d.Value, d.Key)).ToList();
            if (lost.Count == 0) continue;
            removals[row] = lost;
            foreach (var (_, hash) in lost)
                if (random.Next(2) == 0) top.Add(hash);
        }
        return (removals, top);
    }

    private static RecordBatch Batch(List<byte[]> texts, bool utf8)
    {
        var batch = RecordBatch.ForDocuments(texts.Count);
        for (var row = 0; row < texts.Count; row++) batch.AddDocument($"d{row}", Encoding.UTF8.GetString(texts[row]), "source", row);
        if (utf8)
        {
            var values = texts.Select(t => (ReadOnlyMemory<byte>)t).ToArray();
            batch.ResetColumn<string>(Columns.Text).SetUtf8(Utf8Values.CopyOf(values, texts.Count, null, 0, nullAsEmpty: false)!);
        }
        return batch;
    }

    private static List<string> Rows(RecordBatch drops) =>
        [.. Enumerable.Range(0, drops.RowCount).Select(r => string.Join(" | ", drops.AllColumns.Select(c => c.Values[r]?.ToString())))];
}
