using Curation.Pipelines.Embedding.Static;

namespace Curation.Pipelines.Tests.Embedding;

/// <summary>The sentence units cut from the static table's training text (<see cref="StaticTrainingSamples"/>).</summary>
public sealed class StaticTrainingSamplesTests
{
    private static int Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void Sentences_end_at_stops_followed_by_space_at_unspaced_full_stops_and_at_line_breaks()
    {
        const string text = "  Version 1.2 is out. Was it? Yes!\nNew line here\r\n\n数据很好。第二句！第三句？ end";
        var sentences = StaticTrainingSamples.Sentences(text).Select(r => text[r.Start..r.End]).ToList();
        Assert.Equal(["Version 1.2 is out.", "Was it?", "Yes!", "New line here", "数据很好。", "第二句！", "第三句？", "end"], sentences);
        Assert.Empty(StaticTrainingSamples.Sentences(" \n\r\n "));
        Assert.Equal(["no stop at all"], StaticTrainingSamples.Sentences("no stop at all").Select(r => "no stop at all"[r.Start..r.End]));
    }

    [Fact]
    public void Units_are_sentences_then_runs_of_adjacent_sentences_never_a_whole_document_short_or_repeated()
    {
        string[] documents =
        [
            "one two three four five six. seven eight nine ten eleven twelve. thirteen fourteen fifteen sixteen seventeen eighteen.",
            "a single sentence of more than six words here.",
            "Short one. One two three four five six seven. ONE TWO THREE FOUR FIVE SIX SEVEN.",
            "just two sentences, the first one long enough. and the second one long enough too.",
        ];
        var sentences = StaticTrainingSamples.Units(documents, Words, 1);
        Assert.Equal(
        [
            "one two three four five six.", "seven eight nine ten eleven twelve.", "thirteen fourteen fifteen sixteen seventeen eighteen.",
            // "Short one." has fewer than MinPieces words; the upper-case repeat folds onto the sentence before it.
            "One two three four five six seven.",
            "just two sentences, the first one long enough.", "and the second one long enough too.",
        ], sentences);

        var runs = StaticTrainingSamples.Units(documents, Words, 2);
        Assert.Equal(sentences, runs.Take(sentences.Count));
        Assert.Equal(
        [
            "one two three four five six. seven eight nine ten eleven twelve.",
            "seven eight nine ten eleven twelve. thirteen fourteen fifteen sixteen seventeen eighteen.",
            "Short one. One two three four five six seven.",
            "One two three four five six seven. ONE TWO THREE FOUR FIVE SIX SEVEN.",
            // The fourth document has two sentences: its run of two is the document itself (already a row).
        ], runs.Skip(sentences.Count));
        Assert.Throws<ArgumentOutOfRangeException>(() => StaticTrainingSamples.Units(documents, Words, 0));
    }

    [Fact]
    public void The_shipped_training_text_gives_many_more_rows_than_documents()
    {
        var texts = StaticTrainingText.Documents.Select(d => d.Text).ToList();
        var units = StaticTrainingSamples.Units(texts, Words, 1);
        Assert.InRange(units.Count, 2 * texts.Count, 20 * texts.Count);
        Assert.Equal(units, StaticTrainingSamples.Units(texts, Words, 1));
        var folded = texts.Select(t => t.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(units, u => folded.Contains(u.ToLowerInvariant()));
    }
}
