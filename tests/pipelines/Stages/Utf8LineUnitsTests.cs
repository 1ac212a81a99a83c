using System.Text;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Tests.Text;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// The hash phase's UTF-8 path against <see cref="LineUnits"/> on the decoded text: the same units (count and order) with
/// the same hashes, for lines and paragraphs, on ASCII, every script, mixed case, controls, Unicode whitespace,
/// unnormalised and invalid UTF-8.
/// </summary>
public sealed class Utf8LineUnitsTests(ITestOutputHelper output)
{
    private static readonly string[] Pieces =
    [
        "Cookie notice: we use cookies.", "COOKIE   NOTICE:\tWe use Cookies.", "  indented line  ", "tabs\tand\vfeeds\f",
        "控制字符与中文没有空格", "ภาษาไทยไม่มีช่องว่าง", "日本語のテキスト", "Ünïcödé Straße İstanbul", "e\u0301 decomposed é",
        "zero\u200Bwidth\u200Djoiner", "nbsp\u00A0inside", "\u3000ideographic space", "\u2028", "\u00A0", "\u0085", "emoji 👍🏽 family 👨‍👩‍👧",
        "bell\u0007 and del\u007F", "\u001C\u001F separators", "ALL CAPS LINE", "a", "", " ", "\t", "\r", "Ελληνικά ΚΕΦΑΛΑΙΑ", "Кириллица ЗАГЛАВНЫЕ",
        "العربية نص", "עברית", "한국어 텍스트",
    ];

    [Theory]
    [InlineData(LineDedupUnit.Line)]
    [InlineData(LineDedupUnit.Paragraph)]
    public void The_utf8_path_finds_the_same_units_and_hashes_as_the_text_path(LineDedupUnit unit)
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var hasher = new Utf8LineUnits();
        for (var doc = 0; doc < 2000; doc++)
        {
            var text = new StringBuilder();
            for (var line = random.Next(0, 12); line > 0; line--)
            {
                for (var piece = random.Next(1, 4); piece > 0; piece--) text.Append(Pieces[random.Next(Pieces.Length)]).Append(random.Next(3) == 0 ? "  " : " ");
                text.Append(random.Next(5) switch { 0 => "\r\n", 1 => "\n\n", 2 => "\n \n", _ => "\n" });
            }
            Check(text.ToString(), Encoding.UTF8.GetBytes(text.ToString()));
        }
        // Invalid UTF-8 (a lone continuation byte, a truncated sequence before a line feed and at the end): Parquet's decoder
        // replaces it; the unit decoded alone is replaced the same way.
        byte[] invalid = [.. "ok line\n"u8, 0x80, .. " after\n"u8, .. "cut "u8, 0xE6, 0x97, .. "\nok line\n"u8, .. "end "u8, 0xF0, 0x9F];
        Check(Encoding.UTF8.GetString(invalid), invalid);

        void Check(string text, byte[] bytes) => CheckSame(unit, hasher, text, bytes);
    }

    /// <summary>
    /// Printable ASCII lines (the hash's vectorised path: lower case only) and their near misses (a leading or trailing
    /// space, two spaces, a tab, a control character, DEL, a non-ASCII letter: the normalising loop's cases) hash as the
    /// text path hashes them.
    /// </summary>
    [Fact]
    public void Printable_ascii_lines_and_their_near_misses_hash_as_the_text_path_does()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var hasher = new Utf8LineUnits();
        string[] misses = [" ", "  ", "\t", "\u0001", "\u007F", "é", "\u000B"];
        var printable = Enumerable.Range(' ', '~' - ' ' + 1).Select(c => (char)c).ToArray();
        var lines = new List<string> { "A", "Z", "@[`{", "Cookie Notice: We Use COOKIES.", new string(printable).Trim() };
        for (var i = 0; i < 3000; i++)
        {
            var line = new StringBuilder();
            for (var c = random.Next(1, 300); c > 0; c--)
            {
                var next = printable[random.Next(printable.Length)];
                if (next != ' ' || (line.Length > 0 && line[^1] != ' ')) line.Append(next);
            }
            var text = line.ToString().Trim();
            if (text.Length == 0) continue;
            lines.Add(text);
            var miss = misses[random.Next(misses.Length)];
            var at = random.Next(text.Length + 1);
            lines.Add(text[..at] + miss + text[at..]);
        }
        foreach (var line in lines) CheckSame(LineDedupUnit.Line, hasher, line, Encoding.UTF8.GetBytes(line));
        // The vectorised path lower-cases: a line differing only in case hashes the same, one differing in a letter does not.
        var upper = Encoding.UTF8.GetBytes("THE SAME LINE");
        Assert.Equal(hasher.Hash(upper, new LineUnit(0, upper.Length, upper.Length)), hasher.Hash("the same line"u8, new LineUnit(0, 13, 13)));
        Assert.NotEqual(hasher.Hash(upper, new LineUnit(0, upper.Length, upper.Length)), hasher.Hash("the same lina"u8, new LineUnit(0, 13, 13)));
    }

    /// <summary>
    /// Seeded random lines in many scripts (CJK, Thai, Arabic, Devanagari, Hangul jamo, emoji, cased alphabets) mixed with
    /// combining marks, zero-width and Unicode spaces, controls, carriage returns and invalid UTF-8 (the non-ASCII path, decoded
    /// into a reused buffer): the same units and hashes as the text path on the decoded text, for lines and paragraphs.
    /// </summary>
    [Theory]
    [InlineData(LineDedupUnit.Line)]
    [InlineData(LineDedupUnit.Paragraph)]
    public void Random_lines_in_every_script_with_invalid_bytes_hash_as_the_text_path_does(LineDedupUnit unit)
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var hasher = new Utf8LineUnits();
        for (var doc = 0; doc < 1500; doc++)
        {
            var bytes = new List<byte>();
            for (var line = random.Next(1, 10); line > 0; line--)
            {
                bytes.AddRange(ScriptLines.Line(random, random.Next(1, 40)));
                bytes.AddRange(random.Next(6) switch { 0 => "\r\n"u8.ToArray(), 1 => "\n\n"u8.ToArray(), 2 => "\n\u3000\n"u8.ToArray(), _ => "\n"u8.ToArray() });
            }
            byte[] text = [.. bytes];
            CheckSame(unit, hasher, Encoding.UTF8.GetString(text), text);
        }
    }

    /// <summary>
    /// Text below U+0300 (ASCII, Latin-1, Latin Extended: the table-lowered path): every such character alone, between
    /// letters and doubled, and random lines of them with ASCII, Unicode spaces (U+0085, U+00A0), controls and format
    /// characters (soft hyphen), then with one character from U+0300 on or a broken sequence (the decoding path): the
    /// same hashes as the text path, which lowers through ICU.
    /// </summary>
    [Fact]
    public void Latin_text_below_U0300_hashes_as_the_text_path_does()
    {
        var hasher = new Utf8LineUnits();
        for (var c = '\u0080'; c < '\u0300'; c++)
            foreach (var line in new[] { $"{c}", $"A{c}b", $"{c}{c} {char.ToUpperInvariant(c)}", $"x {c} \u00A0y" })
                CheckSame(LineDedupUnit.Line, hasher, line, Encoding.UTF8.GetBytes(line));
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        string[] extra = [" ", "  ", "\t", "\u0085", "\u00A0", "\u00AD", "\u0001", "\u007F", "\u009F", "\r"];
        for (var i = 0; i < 3000; i++)
        {
            var line = new StringBuilder();
            for (var n = random.Next(1, 120); n > 0; n--)
                line.Append(random.Next(6) switch
                {
                    0 => extra[random.Next(extra.Length)],
                    1 or 2 => (char)random.Next(0x80, 0x300),
                    _ => (char)random.Next('A', 'z' + 1),
                });
            var text = line.ToString();
            CheckSame(LineDedupUnit.Line, hasher, text, Encoding.UTF8.GetBytes(text));
            var beyond = text.Insert(random.Next(text.Length + 1), random.Next(2) == 0 ? "e\u0301" : "\u0130\u0307");
            CheckSame(LineDedupUnit.Line, hasher, beyond, Encoding.UTF8.GetBytes(beyond));
            byte[] broken = [.. Encoding.UTF8.GetBytes(text), 0xC3];
            CheckSame(LineDedupUnit.Line, hasher, Encoding.UTF8.GetString(broken), broken);
        }
    }

    private static void CheckSame(LineDedupUnit unit, Utf8LineUnits hasher, string text, byte[] bytes)
    {
        var (fromText, fromBytes) = (new List<LineUnit>(), new List<LineUnit>());
        LineUnits.Split(text, unit, fromText);
        Utf8LineUnits.Split(bytes, unit, fromBytes);
        Assert.Equal(fromText.Count, fromBytes.Count);
        for (var u = 0; u < fromText.Count; u++)
            Assert.True(LineUnits.Hash(text, fromText[u]) == hasher.Hash(bytes, fromBytes[u]),
                $"unit {u} ({text.Substring(fromText[u].Start, fromText[u].Length)}) hashes differently from its UTF-8 bytes");
    }
}
