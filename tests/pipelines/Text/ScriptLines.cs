using System.Text;

namespace Curation.Pipelines.Tests.Text;

/// <summary>
/// Seeded random lines as UTF-8 bytes in many scripts (CJK, Thai, Arabic, Devanagari, Hangul jamo, Latin/Greek/Cyrillic in
/// both cases, emoji with modifiers and ZWJ), with what normalisation and hashing must handle: combining marks and
/// composition exclusions (not NFC), zero-width and format characters, Unicode and ASCII spaces, controls, carriage
/// returns, and invalid UTF-8 (stray continuation bytes, truncated and overlong sequences, encoded surrogates).
/// </summary>
internal static class ScriptLines
{
    private static readonly (int First, int Last)[] Ranges =
    [
        (0x4E00, 0x9FFF), (0x3040, 0x30FF), (0x0E01, 0x0E5B), (0x0600, 0x06FF), (0x0900, 0x097F), (0x1100, 0x11FF),
        (0xAC00, 0xD7A3), (0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF),
        (0x1F300, 0x1FAFF), (0x0300, 0x036F), (0x0958, 0x095F), (0x1E00, 0x1EFF), (0x0590, 0x05FF), (0xFF01, 0xFF5E),
    ];

    private static readonly string[] Specials =
    [
        " ", "  ", "\t", "\v", "\f", "\r", "\u00A0", "\u3000", "\u2028", "\u2029", "\u0085", "\u200B", "\u200C", "\u200D",
        "\uFEFF", "\u00AD", "\u180E", "\u2060", "\u0001", "\u001F", "\u007F", "\u009F", "\u0130", "\u1E9E", "\u03A3",
        "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "e\u0301", "\u1100\u1161\u11A8", "\uFFFD",
    ];

    private static readonly byte[][] Invalid =
    [
        [0x80], [0xBF], [0xFF], [0xFE], [0xE6, 0x97], [0xF0, 0x9F], [0xF0, 0x9F, 0x98], [0xC0, 0xAF], [0xC3],
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0x80],
    ];

    /// <summary>One line (no line feed) of up to <paramref name="maxPieces"/> pieces.</summary>
    public static byte[] Line(Random random, int maxPieces)
    {
        var bytes = new List<byte>();
        for (var piece = random.Next(1, maxPieces + 1); piece > 0; piece--)
        {
            switch (random.Next(10))
            {
                case < 6:
                    var (first, last) = Ranges[random.Next(Ranges.Length)];
                    for (var c = random.Next(1, 8); c > 0; c--) bytes.AddRange(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(random.Next(first, last + 1))));
                    break;
                case < 9:
                    bytes.AddRange(Encoding.UTF8.GetBytes(Specials[random.Next(Specials.Length)]));
                    break;
                default:
                    bytes.AddRange(Invalid[random.Next(Invalid.Length)]);
                    break;
            }
        }
        return [.. bytes];
    }
}
