using Curation.Pipelines.Model;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>extract's title column: the page title, else its first h1, else null (as for a row that is not HTML).</summary>
public sealed class ExtractTransformTests
{
    [Fact]
    public void Title_is_the_pages_title_or_first_heading_and_null_for_an_untitled_page()
    {
        const string body = "<p>Le café est une boisson préparée à partir des graines torréfiées du caféier.</p>";
        var batch = RecordBatch.ForDocuments();
        batch.AddDocument("titled", $"<html><head><title>東京の天気</title></head><body>{body}</body></html>", "pages", 0);
        batch.AddDocument("heading", $"<html><body><h1>Café</h1>{body}</body></html>", "pages", 1);
        batch.AddDocument("untitled", $"<html><body>{body}</body></html>", "pages", 2);
        batch.AddDocument("menu only", "<html><body><nav>home</nav></body></html>", "pages", 3);
        var drops = new DropCollector(batch, ExtractStageSpec.TypeName);

        new ExtractStageSpec().CreateTransform().Process(batch, drops);

        var titles = batch.GetColumn<string>(ExtractTransform.TitleColumn);
        Assert.Equal(["東京の天気", "Café", null, null], Enumerable.Range(0, batch.RowCount).Select(row => titles[row]));
        Assert.All(Enumerable.Range(0, 3), row => Assert.StartsWith("Le café est une boisson", batch.Texts[row].Split('\n')[^1]));
        Assert.Equal([3], Enumerable.Range(0, batch.RowCount).Where(drops.IsDropped));
        Assert.Equal("0 characters of main text < 1 (untitled)", drops.ToDropsBatch().GetColumn<string>(DropsSchema.Detail)[0]);
    }
}
