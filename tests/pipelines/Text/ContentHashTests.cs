using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Curation.Pipelines.Text;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Text;

/// <summary>
/// <see cref="ContentHash.Of(ReadOnlySpan{char}, bool, bool)"/> (the one mechanism, which the string overload calls) gives
/// the hash of its definition, computed here the plain way on strings (string.Normalize, string.ToLowerInvariant, a filter,
/// UTF-8, XxHash128), for seeded random text in many scripts, every option, and text holding lone surrogates.
/// </summary>
public sealed class ContentHashTests(ITestOutputHelper output)
{
    [Fact]
    public void The_span_hash_is_the_hash_of_its_definition_for_every_script_and_option()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (var i = 0; i < 3000; i++)
        {
            var text = Encoding.UTF8.GetString(ScriptLines.Line(random, 12));
            // Lone surrogates only come from strings (decoding UTF-8 never makes one): planted in some of them.
            if (i % 7 == 0) text = text.Insert(random.Next(text.Length + 1), random.Next(2) == 0 ? "\uD83D" : "\uDC4D");
            foreach (var (caseFold, collapse) in new[] { (true, true), (true, false), (false, true), (false, false) })
            {
                var expected = Outcome(() => Definition(text, caseFold, collapse));
                Assert.Equal(expected, Outcome(() => ContentHash.Of(text.AsSpan(), caseFold, collapse)));
                Assert.Equal(expected, Outcome(() => ContentHash.Of(text, caseFold, collapse)));
            }
        }
    }

    [Fact]
    public void Equivalent_texts_hash_the_same_and_different_ones_do_not()
    {
        Assert.Equal(ContentHash.Of("caf\u00E9  Ünï", true, true), ContentHash.Of("CAFE\u0301\u3000u\u0308n\u200Bi\u0308".AsSpan(), true, true));
        Assert.NotEqual(ContentHash.Of("café".AsSpan(), true, true), ContentHash.Of("cafe".AsSpan(), true, true));
        Assert.NotEqual(ContentHash.Of("東京".AsSpan(), false, false), ContentHash.Of("京東".AsSpan(), false, false));
    }

    /// <summary>
    /// The hash's shortcut (text below U+0300 is NFC without asking ICU) holds: every character and every pair of
    /// characters below U+0300 is NFC by <see cref="string.IsNormalized(NormalizationForm)"/> (composition needs a second
    /// character at U+0300 or above), while the first characters above it that can change under NFC do change.
    /// </summary>
    [Fact]
    public void Text_below_U0300_is_nfc_so_the_shortcut_never_skips_a_normalisation()
    {
        var pair = new char[2];
        for (var a = 0; a < 0x300; a++)
        {
            pair[0] = (char)a;
            Assert.True(new string(pair, 0, 1).IsNormalized(NormalizationForm.FormC), $"U+{a:X4}");
            for (var b = 0; b < 0x300; b++)
            {
                pair[1] = (char)b;
                if (!new string(pair).IsNormalized(NormalizationForm.FormC)) Assert.Fail($"U+{a:X4} U+{b:X4}");
            }
        }
        Assert.False("e\u0300".IsNormalized(NormalizationForm.FormC));
        Assert.False("\u0340".IsNormalized(NormalizationForm.FormC));
        Assert.Equal(ContentHash.Of("\u00E8", true, true), ContentHash.Of("e\u0300".AsSpan(), true, true));
    }

    private static string Outcome(Func<ContentHash> hash)
    {
        try
        {
            return hash().ToString();
        }
        catch (ArgumentException exception)
        {
            return exception.GetType().Name;
        }
    }

    /// <summary>The hash's definition on strings (the way ContentHash.Of(string) computed it before the span overload).</summary>
    private static ContentHash Definition(string text, bool caseFold, bool collapseWhitespace)
    {
        var canonical = text.Normalize(NormalizationForm.FormC);
        if (caseFold) canonical = canonical.ToLowerInvariant();
        var kept = new StringBuilder();
        var pendingSpace = false;
        foreach (var c in canonical)
        {
            var space = c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f' || (c >= 128 && char.IsWhiteSpace(c));
            var invisible = c < 128 ? (c < 32 || c == 127) && !space
                : CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format || (char.IsControl(c) && !char.IsWhiteSpace(c));
            if (invisible) continue;
            if (space && collapseWhitespace) { pendingSpace = kept.Length > 0; continue; }
            if (pendingSpace) { kept.Append(' '); pendingSpace = false; }
            kept.Append(c);
        }
        var hash = XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(kept.ToString()));
        return new ContentHash((long)(ulong)(hash >> 64), (long)(ulong)hash);
    }
}
