using System.Text;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Curation.Testing;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

public sealed class WarcReaderTests
{
    private static byte[] Response(string url, string contentType, byte[] body, int serial, string version = "WARC/1.1") =>
        WebPageCorpus.WarcRecord(version, "response", url, WebPageCorpus.HttpResponse(contentType, body), "application/http; msgtype=response", serial);

    private static string? Field(InputRecord record, string name) => (string?)record.Fields?.Single(f => f.Name == name).Value;

    [Fact]
    public async Task Plain_WARC_1_0_and_1_1_responses_become_documents_with_their_columns_and_other_records_are_passed_over()
    {
        byte[] warc =
        [
            .. WebPageCorpus.WarcRecord("WARC/1.0", "warcinfo", null, "software: x\r\n"u8.ToArray(), "application/warc-fields", 1),
            .. WebPageCorpus.WarcRecord("WARC/1.0", "request", "https://a.example/", "GET / HTTP/1.1\r\n\r\n"u8.ToArray(), "application/http; msgtype=request", 2),
            .. Response("https://a.example/", "text/html; charset=UTF-8", "<html><body><p>héllo</p></body></html>"u8.ToArray(), 3, "WARC/1.0"),
            .. Response("https://b.example/", "text/html", Encoding.Latin1.GetBytes("<meta charset=\"iso-8859-1\"><p>caf\u00e9</p>"), 4),
            .. Response("https://c.example/x.pdf", "application/pdf", "%PDF-1.4"u8.ToArray(), 5),
            .. WebPageCorpus.WarcRecord("WARC/1.1", "metadata", "https://a.example/", "fetchTimeMs: 3\r\n"u8.ToArray(), "application/warc-fields", 6),
            .. Response("https://d.example/", "text/html; charset=utf-8", [0x3C, 0x70, 0x3E, 0xFF, 0x3C], 7),
        ];
        var records = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(), "crawl.warc");
        Assert.Equal([2L, 3, 4, 6], records.Select(r => r.Position));
        var a = records[0];
        Assert.Equal("<html><body><p>héllo</p></body></html>", a.Text);
        Assert.Equal("https://a.example/", Field(a, "url"));
        Assert.Equal("text/html", Field(a, "content_type"));
        Assert.Equal("utf-8", Field(a, "charset"));
        Assert.Equal("2026-01-04T10:00:00Z", Field(a, "warc_date"));
        Assert.Equal("<urn:uuid:00000000-0000-4000-8000-000000000003>", Field(a, "warc_record_id"));
        Assert.Equal("<meta charset=\"iso-8859-1\"><p>café</p>", records[1].Text);
        Assert.Equal("windows-1252", Field(records[1], "charset"));
        Assert.Equal(WarcReader.NotHtml, records[2].Problem);
        Assert.Contains("application/pdf", records[2].Detail);
        Assert.Contains("record 5 at offset", records[2].Detail);
        Assert.Equal(QuarantineReasons.InvalidUtf8, records[3].Problem);
    }

    [Fact]
    public async Task Responses_whose_HTTP_status_is_not_2xx_are_quarantined_with_their_status_never_documents()
    {
        byte[] Http(string statusLine, string headers, string page, int serial, string url) => WebPageCorpus.WarcRecord("WARC/1.1", "response", url,
            [.. Encoding.ASCII.GetBytes($"{statusLine}\r\nContent-Type: text/html; charset=utf-8\r\n{headers}Content-Length: {Encoding.UTF8.GetByteCount(page)}\r\n\r\n"),
             .. Encoding.UTF8.GetBytes(page)], "application/http; msgtype=response", serial);
        byte[] warc =
        [
            .. Http("HTTP/1.1 200 OK", "", "<p>the article</p>", 1, "https://a.example/article"),
            .. Http("HTTP/1.1 404 Not Found", "", "<h1>Page not found</h1><p>Sorry, this page does not exist.</p>", 2, "https://a.example/gone"),
            .. Http("HTTP/1.1 301 Moved Permanently", "Location: https://a.example/new\r\n", "<p>Moved <a href=/new>here</a></p>", 3, "https://a.example/old"),
            .. Http("HTTP/2 503", "", "<p>Service unavailable, try later</p>", 4, "https://b.example/"),
            .. Http("HTTP/1.0 203 Non-Authoritative Information", "", "<p>still a page</p>", 5, "https://c.example/"),
        ];
        var records = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(), "crawl.warc");
        Assert.Equal(["<p>the article</p>", null, null, null, "<p>still a page</p>"], records.Select(r => r.Text));
        Assert.Equal([null, WarcReader.HttpStatus, WarcReader.HttpStatus, WarcReader.HttpStatus, null], records.Select(r => r.Problem));
        Assert.Contains("(https://a.example/gone): HTTP 404 Not Found, not a page", records[1].Detail);
        Assert.Contains("(https://a.example/old): HTTP 301 Moved Permanently to https://a.example/new, not a page", records[2].Detail);
        Assert.Contains("(https://b.example/): HTTP 503, not a page", records[3].Detail);
    }

    [Fact]
    public async Task A_record_cut_short_or_not_a_WARC_record_ends_the_object_as_corrupt_and_big_blocks_are_skipped_unread()
    {
        var good = Response("https://a.example/", "text/html", "<p>one</p>"u8.ToArray(), 1);
        var big = Response("https://big.example/", "text/html", Encoding.UTF8.GetBytes("<p>" + new string('x', 5000) + "</p>"), 2);
        var cut = Response("https://c.example/", "text/html", "<p>three</p>"u8.ToArray(), 3);
        byte[] truncated = [.. good, .. big, .. cut.AsSpan(0, cut.Length - 12)];
        var records = await ReadAllAsync(WarcReader.Plain, truncated, MakeSpec(maxRecordBytes: 1000), "cut.warc");
        Assert.Equal(3, records.Count);
        Assert.Equal("<p>one</p>", records[0].Text);
        Assert.Equal(QuarantineReasons.RecordTooLarge, records[1].Problem);
        Assert.Equal((2L, QuarantineReasons.CorruptObject), (records[2].Position, records[2].Problem));
        Assert.Contains("cut.warc", records[2].Detail);
        Assert.Contains("cut short", records[2].Detail);

        var junk = await ReadAllAsync(WarcReader.Plain, [.. good, .. "HTTP/1.1 200 OK\r\n\r\n"u8], MakeSpec(), "junk.warc");
        Assert.Equal(QuarantineReasons.CorruptObject, junk[^1].Problem);
        Assert.Contains("not a WARC 1.0/1.1 record", junk[^1].Detail);
    }

    [Fact]
    public async Task WET_conversion_records_in_a_multi_member_gzip_are_plain_text_documents()
    {
        byte[] wet =
        [
            .. WebPageCorpus.GzipMember(WebPageCorpus.WarcRecord("WARC/1.0", "conversion", "https://a.example/", "line one\nline two"u8.ToArray(), "text/plain", 1)),
            .. WebPageCorpus.GzipMember(WebPageCorpus.WarcRecord("WARC/1.0", "conversion", "https://b.example/", "日本語のテキスト"u8.ToArray(), "text/plain", 2)),
        ];
        var records = await ReadAllAsync(InputReaders.For(MakeSpec(), "x.warc.wet.gz"), wet, MakeSpec(), "x.warc.wet.gz");
        Assert.Equal(["line one\nline two", "日本語のテキスト"], records.Select(r => r.Text));
        Assert.Equal("text/plain", Field(records[1], "content_type"));
        Assert.Equal([0L, 1], records.Select(r => r.Position));
    }

    [Fact]
    public async Task An_HTML_file_is_one_page_decoded_by_its_meta_charset_and_an_unknown_charset_is_quarantined()
    {
        var page = Encoding.GetEncoding("ISO-8859-1").GetBytes("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head><body>na\u00efve</body></html>");
        var records = await ReadAllAsync(InputReaders.For(MakeSpec(), "a.HTM"), page, MakeSpec(), "a.htm");
        Assert.Contains("naïve", Assert.Single(records).Text);
        Assert.Equal("windows-1252", Field(records[0], "charset"));
        var bad = await ReadAllAsync(HtmlFileReader.Instance, "<meta charset=\"klingon-8\"><p>x</p>"u8.ToArray(), MakeSpec(), "b.html");
        Assert.Equal(HtmlText.UnknownCharset, Assert.Single(bad).Problem);
    }

    [Fact]
    public async Task A_raw_chunked_and_gzip_encoded_HTTP_payload_is_decoded_and_a_broken_one_is_quarantined()
    {
        var page = "<html><body><p>Chunked and compressed, as wget keeps it.</p></body></html>"u8.ToArray();
        var gzip = WebPageCorpus.GzipMember(page);
        var chunked = new MemoryStream();
        foreach (var piece in gzip.Chunk(17))
        {
            chunked.Write(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"));
            chunked.Write(piece);
            chunked.Write("\r\n"u8);
        }
        chunked.Write("0\r\n\r\n"u8);
        byte[] Raw(byte[] payload, string headers) =>
        [
            .. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{headers}\r\n"), .. payload,
        ];
        byte[] warc =
        [
            .. WebPageCorpus.WarcRecord("WARC/1.0", "response", "https://a.example/", Raw(chunked.ToArray(), "Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"), "application/http; msgtype=response", 1),
            .. WebPageCorpus.WarcRecord("WARC/1.0", "response", "https://b.example/", Raw(gzip.AsSpan(0, 20).ToArray(), "Content-Encoding: gzip\r\n"), "application/http; msgtype=response", 2),
            .. WebPageCorpus.WarcRecord("WARC/1.0", "response", "https://c.example/", Raw("zz\r\nxx"u8.ToArray(), "Transfer-Encoding: chunked\r\n"), "application/http; msgtype=response", 3),
        ];
        var records = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(), "raw.warc");
        Assert.Equal(Encoding.UTF8.GetString(page), records[0].Text);
        Assert.Equal((HttpPayload.BadHttpBody, HttpPayload.BadHttpBody), (records[1].Problem, records[2].Problem));
        Assert.Contains("gzip", records[1].Detail);
        Assert.Contains("chunked", records[2].Detail);
    }

    [Fact]
    public async Task IdField_takes_the_id_from_a_WARC_column_and_fields_choose_the_columns_kept()
    {
        // Both were silently ignored: ids stayed source#position and every WARC column was kept.
        byte[] warc =
        [
            .. Response("https://a.example/", "text/html; charset=utf-8", "<p>one</p>"u8.ToArray(), 1),
            .. Response("https://b.example/", "text/html; charset=utf-8", "<p>two</p>"u8.ToArray(), 2),
        ];
        var byRecordId = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(idField: "warc_record_id"), "crawl.warc");
        Assert.Equal(["<urn:uuid:00000000-0000-4000-8000-000000000001>", "<urn:uuid:00000000-0000-4000-8000-000000000002>"], byRecordId.Select(r => r.Id));
        Assert.DoesNotContain(byRecordId[0].Fields!, f => f.Name == "warc_record_id"); // the id, as a JSONL id field is
        Assert.Equal(["https://a.example/", "https://b.example/"], (await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(idField: "url"), "crawl.warc")).Select(r => r.Id));

        var misspelt = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec(idField: "record_id"), "crawl.warc");
        Assert.All(misspelt, r => Assert.Equal(QuarantineReasons.MissingIdField, r.Problem));
        Assert.Contains("no field 'record_id' (a page has url, warc_date, warc_record_id, content_type, charset)", misspelt[0].Detail);

        var onlyUrl = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec() with { Fields = ["url"] }, "crawl.warc");
        Assert.Equal(["url", "content_type"], onlyUrl[0].Fields!.Select(f => f.Name)); // content_type stays: extract tells pages from WET text by it
        var noCharset = await ReadAllAsync(WarcReader.Plain, warc, MakeSpec() with { DropFields = ["charset", "warc_date"] }, "crawl.warc");
        Assert.Equal(["url", "warc_record_id", "content_type"], noCharset[0].Fields!.Select(f => f.Name));
        var html = Assert.Single(await ReadAllAsync(HtmlFileReader.Instance, "<p>x</p>"u8.ToArray(), MakeSpec() with { Fields = [] }, "a.html"));
        Assert.Equal(["content_type"], html.Fields!.Select(f => f.Name));
    }
}
