using System.Text;
using System.Text.Json;

namespace Curation.Bench;

/// <summary>
/// quality_score's labelled examples for <c>bench sizing</c>: a JSONL file of <c>text</c> and <c>label</c>, half positive
/// (prose from the corpus' generator, texts the corpus does not hold) and half negative (spam: the same vocabulary
/// cut into short calls to action, link lists and keyword runs). <see cref="Examples"/> is the size of a hand-labelled
/// set of the kind FineWeb-Edu and DCLM train their classifiers on, scaled to what one training task embeds and fits:
/// the task holds every example's embedding (10,000 × 384 floats: 15 MiB; the stage's maxExamples, 100,000: 147 MiB).
/// </summary>
public static class QualityTrainingSet
{
    public const int Examples = 10_000;

    private static readonly string[] Calls = ["Click here", "Buy now", "Free shipping", "Best price", "Limited offer", "Sign up today", "Download free", "Cheap deals"];

    public static (long Positive, long Negative) Write(string path, TextGen gen)
    {
        using var writer = new StreamWriter(path);
        long positive = 0, negative = 0;
        for (var i = 0; i < Examples; i++)
        {
            var random = gen.For(-2_000_000 - i);
            var good = i % 2 == 0;
            var text = good ? gen.Prose(random, 250 + random.Next(300)) : Spam(gen, random);
            writer.WriteLine(JsonSerializer.Serialize(new { text, label = good ? 1 : 0 }));
            if (good) positive++;
            else negative++;
        }
        return (positive, negative);
    }

    private static string Spam(TextGen gen, Random random)
    {
        var text = new StringBuilder();
        var words = gen.Prose(random, 200).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var line = 0; line < 4 + random.Next(6); line++)
        {
            var word = words[random.Next(words.Length)].TrimEnd('.', ',', '?');
            text.Append(random.Next(3) switch
            {
                0 => $"{Calls[random.Next(Calls.Length)]}! {word} {word} {word} >>> ",
                1 => $"| {word} | {words[random.Next(words.Length)].TrimEnd('.', ',', '?')} | more | ",
                _ => $"{Calls[random.Next(Calls.Length)].ToUpperInvariant()} {word.ToUpperInvariant()} !!! ",
            });
            text.Append('\n');
        }
        return text.ToString();
    }
}
