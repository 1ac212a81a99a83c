using System.Text.Encodings.Web;
using System.Text.Json;
using Curation.Pipelines;

namespace Curation.Silo.Api;

/// <summary>
/// How the API writes what it reads from outputs (manifests, document fates, drops, what-if answers): the product's JSON
/// convention (<see cref="CurationJson"/>), with document texts, details and ids in every script as UTF-8 — readable in
/// curl and about half the bytes of <c>\u672C\u6587…</c> escapes. "Relaxed" only matters for JSON pasted into HTML: API
/// answers are <c>application/json</c> with <c>nosniff</c> and a content security policy, and the dashboard sets every
/// text as text. (The stored files keep <see cref="CurationJson.Options"/>: a spec's JSON is what its job id hashes.)
/// </summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(CurationJson.Options) { Encoder = Relaxed };

    public static JavaScriptEncoder Relaxed => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
}
