using System.Text;
using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// Real text against low-quality text, for training and checking quality classifiers: the real side is the demo
/// corpus' paper abstracts and Debian documentation paragraphs (<c>samples/corpus</c>, without the planted duplicates
/// and low-quality documents of <c>corpus.truth.jsonl</c>, 200–900 characters); the low side is either the same kind of
/// paragraphs with their words shuffled (seeded), or boilerplate assembled from the navigation, cookie and legal lines
/// of web pages. Deterministic for a seed; disjoint slices for labelled examples and for the corpus to curate.
/// </summary>
public static class QualityExamples
{
    public sealed record Example(string Id, string Text, bool Good);

    private static readonly string[] Boilerplate =
    [
        "Skip to main content", "Accept all cookies", "Manage cookie preferences", "We use cookies to improve your experience.",
        "Sign in", "Create an account", "Forgot your password?", "Subscribe to our newsletter", "Follow us on social media",
        "Share on Facebook", "Share on Twitter", "Privacy Policy", "Terms of Service", "Terms and Conditions", "Contact us",
        "About us", "Home", "Back to top", "All rights reserved.", "Copyright © 2024", "Click here to learn more",
        "Read more", "Load more comments", "Related articles", "Sponsored content", "Advertisement", "Site map",
        "Powered by WordPress", "Log out", "Add to cart", "Free shipping on orders over $50", "Customer reviews",
        "Leave a reply", "Your email address will not be published.", "Required fields are marked *", "Next page", "Previous page",
        "Search this site", "Download our app", "Cookie settings", "Do not sell my personal information", "Help center",
    ];

    private static readonly Lazy<IReadOnlyList<string>> RealTexts = new(LoadRealTexts);

    /// <summary>
    /// <paramref name="count"/> good and <paramref name="count"/> bad examples, starting at real paragraph
    /// <paramref name="skip"/> (slices that do not overlap never share a paragraph). <paramref name="boilerplate"/>: the bad
    /// side is boilerplate; otherwise the next paragraphs with their words shuffled.
    /// </summary>
    public static IReadOnlyList<Example> Take(int skip, int count, bool boilerplate, int seed, string idPrefix)
    {
        var real = RealTexts.Value;
        if (skip + 2 * count > real.Count) throw new ArgumentOutOfRangeException(nameof(count), $"only {real.Count} real paragraphs");
        var random = new Random(seed);
        var result = new List<Example>();
        for (var i = 0; i < count; i++)
        {
            result.Add(new Example($"{idPrefix}good-{i:D4}", real[skip + i], true));
            var bad = boilerplate ? BoilerplateText(random) : Shuffle(real[skip + count + i], random);
            result.Add(new Example($"{idPrefix}bad-{i:D4}", bad, false));
        }
        return result;
    }

    /// <summary>Writes examples as the labelled JSONL a quality_score stage trains from (<c>text</c>, <c>label</c> 1/0).</summary>
    public static void WriteLabelled(string path, IEnumerable<Example> examples, IEnumerable<string>? extraLines = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var lines = examples.Select(e => JsonSerializer.Serialize(new { text = e.Text, label = e.Good ? 1 : 0 })).Concat(extraLines ?? []);
        File.WriteAllLines(path, lines);
    }

    /// <summary>Writes examples as a corpus to curate (<c>id</c>, <c>text</c>): good ones to good.jsonl, bad ones to bad.jsonl.</summary>
    public static void WriteCorpus(string folder, IEnumerable<Example> examples)
    {
        Directory.CreateDirectory(folder);
        foreach (var group in examples.GroupBy(e => e.Good))
            File.WriteAllLines(Path.Combine(folder, group.Key ? "good.jsonl" : "bad.jsonl"),
                group.Select(e => JsonSerializer.Serialize(new { id = e.Id, text = e.Text })));
    }

    private static string Shuffle(string text, Random random)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        random.Shuffle(words);
        return string.Join(' ', words);
    }

    private static string BoilerplateText(Random random)
    {
        var text = new StringBuilder();
        var lines = 8 + random.Next(12);
        for (var i = 0; i < lines; i++) text.Append(i == 0 ? "" : " | ").Append(Boilerplate[random.Next(Boilerplate.Length)]);
        return text.ToString();
    }

    private static IReadOnlyList<string> LoadRealTexts()
    {
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        var planted = File.ReadLines(Path.Combine(samples, "corpus.truth.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!).ToHashSet(StringComparer.Ordinal);
        var texts = new List<(string Id, string Text)>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(samples, "corpus"), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                using var json = JsonDocument.Parse(line);
                var id = json.RootElement.GetProperty("id").GetString()!;
                var text = json.RootElement.GetProperty("text").GetString()!;
                if (!planted.Contains(id) && text.Length is >= 200 and <= 900) texts.Add((id, text));
            }
        // A stable interleaving of abstracts and documentation: by id.
        return texts.OrderBy(t => t.Id, StringComparer.Ordinal).Select(t => t.Text).Distinct(StringComparer.Ordinal).ToArray();
    }
}
