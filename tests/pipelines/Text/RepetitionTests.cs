using Curation.Pipelines.Text;

namespace Curation.Pipelines.Tests.Text;

public sealed class RepetitionTests
{
    [Theory]
    // Both grams occur twice: the one seen first wins (Python's Counter.most_common), not the one that reached 2 first.
    [InlineData(new[] { "x", "yy", "yy", "x" }, 1, 2)]
    [InlineData(new[] { "yy", "x", "x", "yy" }, 1, 4)]
    [InlineData(new[] { "a", "b", "c", "c", "b", "a" }, 1, 2)]
    [InlineData(new[] { "ab", "c", "ab", "c", "ab" }, 2, 8)] // "ab c" ×2 before "c ab" ×2: 4 characters × 2
    [InlineData(new[] { "x" }, 2, 0)]
    public void The_top_n_gram_breaks_ties_by_first_appearance(string[] words, int n, long expected) =>
        Assert.Equal(expected, Repetition.TopNGramChars(words, n));
}
