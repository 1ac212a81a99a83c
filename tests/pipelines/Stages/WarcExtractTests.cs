using System.Text;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// A generated multi-member .warc.gz of real HTML pages (Debian's documentation in site chrome; WARC 1.0 and 1.1;
/// a windows-1252 page, a non-HTML record, an unknown charset, a duplicate page, a truncated last member), a WET file and
/// an HTML file run through extract → normalize → quality_filter → exact_dedup: documents carry url, warc_date,
/// warc_record_id, content_type, charset and title; bad records are quarantined with object, offset and reason; the
/// books balance.
/// </summary>
public sealed class WarcExtractTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("warc");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_multi_member_warc_gz_of_real_pages_runs_through_extract_normalize_filter_and_dedup_with_books_balanced()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var paths = WebPageCorpus.DebianPages(8);
        Assert.True(paths.Count >= 4, "Debian HTML documentation under /usr/share/doc");
        var pages = paths.Select(p => WebPageCorpus.Wrap(p, random)).ToArray();

        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var warc = new MemoryStream();
        var serial = 0;
        void Member(byte[] record) => warc.Write(WebPageCorpus.GzipMember(record));
        Member(WebPageCorpus.WarcRecord("WARC/1.1", "warcinfo", null, "software: test\r\n"u8.ToArray(), "application/warc-fields", serial++));
        foreach (var (page, i) in pages.Select((p, i) => (p, i)))
        {
            var url = $"https://docs.example/{i}";
            Member(WebPageCorpus.WarcRecord(i % 2 == 0 ? "WARC/1.0" : "WARC/1.1", "request", url, Encoding.ASCII.GetBytes($"GET /{i} HTTP/1.1\r\nHost: docs.example\r\n\r\n"), "application/http; msgtype=request", serial++));
            Member(WebPageCorpus.WarcRecord(i % 2 == 0 ? "WARC/1.0" : "WARC/1.1", "response", url,
                WebPageCorpus.HttpResponse("text/html; charset=utf-8", Encoding.UTF8.GetBytes(page.Html)), "application/http; msgtype=response", serial++));
        }
        // The first page again under another URL: an exact duplicate after extraction.
        Member(WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://mirror.example/0",
            WebPageCorpus.HttpResponse("text/html", Encoding.UTF8.GetBytes(pages[0].Html)), "application/http; msgtype=response", serial++));
        // A windows-1252 page, declared in the HTTP header.
        const string cafe = "The café on the corner serves crème brûlée and naïve little pastries every morning before the market opens.";
        var latin = Encoding.Latin1.GetBytes($"<html><head><title>Café</title></head><body><div class=\"menu\"><a href=\"/\">Home</a> <a href=\"/x\">More</a></div><p>{cafe}</p></body></html>");
        Member(WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://cafe.example/",
            WebPageCorpus.HttpResponse("text/html; charset=windows-1252", latin), "application/http; msgtype=response", serial++));
        var notHtmlPosition = serial;
        Member(WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://docs.example/logo.png",
            WebPageCorpus.HttpResponse("image/png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "application/http; msgtype=response", serial++));
        var badCharsetPosition = serial;
        Member(WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://bogus.example/",
            WebPageCorpus.HttpResponse("text/html; charset=x-no-such-charset", "<p>hello there</p>"u8.ToArray()), "application/http; msgtype=response", serial++));
        var truncatedPosition = serial;
        var last = WebPageCorpus.GzipMember(WebPageCorpus.WarcRecord("WARC/1.1", "response", "https://docs.example/cut",
            WebPageCorpus.HttpResponse("text/html", Encoding.UTF8.GetBytes(pages[1].Html)), "application/http; msgtype=response", serial++));
        warc.Write(last.AsSpan(0, last.Length / 2));
        await File.WriteAllBytesAsync(Path.Combine(folder, "crawl.warc.gz"), warc.ToArray());

        // WET: conversion records of plain text.
        var wet = new MemoryStream();
        var wetText = "Plain text extracted by a crawler keeps its lines.\nA second line of the same page follows here.";
        wet.Write(WebPageCorpus.WarcRecord("WARC/1.0", "conversion", "https://wet.example/1", Encoding.UTF8.GetBytes(wetText), "text/plain", 900));
        await File.WriteAllBytesAsync(Path.Combine(folder, "crawl.warc.wet"), wet.ToArray());
        await File.WriteAllTextAsync(Path.Combine(folder, "page.html"), pages[2].Html);

        var spec = new JobSpec
        {
            Name = "warc",
            Inputs =
            [
                new InputSpec { Path = Path.Combine(folder, "*.warc.gz") },
                new InputSpec { Path = Path.Combine(folder, "*.warc.wet") },
                new InputSpec { Path = Path.Combine(folder, "*.html") },
            ],
            Stages = [new ExtractStageSpec(), new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 40, MinWords = 5, MaxSymbolRatio = 0.3, MaxRepeatedLineFraction = 0.9 }, new ExactDedupStageSpec()],
            Output = new OutputSpec { Path = "curated/warc" },
        };
        var root = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/warc");
        var manifest = result.Manifest;
        Assert.Empty(manifest.Accounting.Imbalances());

        // Quarantine: object, record number, offset and reason.
        foreach (var q in result.Quarantine) output.WriteLine($"quarantine {q.Source}#{q.Position} {q.Reason}: {q.Detail}");
        var notHtml = Assert.Single(result.Quarantine, q => q.Reason == WarcReader.NotHtml);
        Assert.Equal(("crawl.warc.gz", (long)notHtmlPosition), (notHtml.Source, notHtml.Position));
        Assert.Contains("image/png", notHtml.Detail);
        Assert.Contains("offset", notHtml.Detail);
        var badCharset = Assert.Single(result.Quarantine, q => q.Reason == HtmlText.UnknownCharset);
        Assert.Equal(badCharsetPosition, badCharset.Position);
        Assert.Contains("x-no-such-charset", badCharset.Detail);
        var corrupt = Assert.Single(result.Quarantine, q => q.Reason == QuarantineReasons.CorruptObject);
        Assert.Equal(truncatedPosition, corrupt.Position);
        Assert.Contains("crawl.warc.gz", corrupt.Detail);
        Assert.Contains("truncated gzip", corrupt.Detail);
        Assert.Contains(manifest.Errors, e => e.Contains("crawl.warc.gz", StringComparison.Ordinal));

        // The duplicate page is dropped by exact_dedup, pointing at the first.
        var duplicate = Assert.Single(result.Drops, d => d.Reason == "exact_duplicate" && d.Source == "crawl.warc.gz");
        Assert.Equal(ReadStage.DerivedId("crawl.warc.gz", 2), duplicate.TwinId);
        // page.html is page 2 of the archive.
        Assert.Equal(ReadStage.DerivedId("crawl.warc.gz", 6), Assert.Single(result.Drops, d => d.Source == "page.html").TwinId);

        // Curated rows: the page's main text with its columns.
        var rows = await ReadRowsAsync(root, manifest);
        var schema = manifest.Schema.Select(c => c.Name).ToArray();
        foreach (var column in new[] { "url", "warc_date", "warc_record_id", "content_type", "charset", "title" }) Assert.Contains(column, schema);
        var first = rows[ReadStage.DerivedId("crawl.warc.gz", 2)];
        Assert.Equal("https://docs.example/0", first["url"]);
        Assert.Equal("text/html", first["content_type"]);
        Assert.Equal("utf-8", first["charset"]);
        Assert.StartsWith("<urn:uuid:", (string)first["warc_record_id"]!);
        Assert.Equal(pages[0].Title, first["title"]);
        var text = (string)first["text"]!;
        Assert.DoesNotContain("We use cookies", text);
        Assert.DoesNotContain("Subscribe to our newsletter", text);
        Assert.DoesNotContain("All rights reserved", text);
        Assert.Contains("\n\n", text);
        var score = WebPageCorpus.Score(text, pages[0].ArticleText);
        output.WriteLine($"page 0: P {score.Precision:F3} R {score.Recall:F3} F1 {score.F1:F3}");
        Assert.True(score.F1 > 0.8, $"F1 {score.F1:F3}");

        var latinRow = rows.Values.Single(r => (string?)r["url"] == "https://cafe.example/");
        Assert.Equal("windows-1252", latinRow["charset"]);
        Assert.Contains(cafe, (string)latinRow["text"]!);
        Assert.Equal("Café", latinRow["title"]);

        var wetRow = rows[ReadStage.DerivedId("crawl.warc.wet", 0)];
        Assert.Equal("text/plain", wetRow["content_type"]);
        Assert.Equal(wetText, wetRow["text"]);
        Assert.Null(wetRow["title"]);

        var htmlRow = rows[ReadStage.DerivedId("crawl.warc.gz", 6)];
        Assert.Equal(pages[2].Title, htmlRow["title"]);
        Assert.Equal("https://docs.example/2", htmlRow["url"]);
    }

    private static async Task<Dictionary<string, Dictionary<string, object?>>> ReadRowsAsync(string root, Manifest manifest)
    {
        var rows = new Dictionary<string, Dictionary<string, object?>>();
        foreach (var shard in manifest.Shards)
        {
            await using var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(root, "curated", "warc", shard.Key)));
            await foreach (var b in reader.ReadAllAsync())
                for (var i = 0; i < b.RowCount; i++)
                    rows[b.Ids[i]] = b.AllColumns.ToDictionary(c => c.Name, c => c.Values[i]);
        }
        return rows;
    }
}
