using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Curation.Pipelines;

/// <summary>The one JSON convention of the product: camelCase, enums as strings, indented for humans.</summary>
public static class CurationJson
{
    public static readonly JsonSerializerOptions Options = Create(indented: true);
    public static readonly JsonSerializerOptions Compact = Create(indented: false);

    /// <summary>
    /// <see cref="Options"/> for the files people open (the output's manifest.json and report.json): every script as
    /// UTF-8 (<c>"zh.jsonl": 15960</c>, not <c>\u4E2D…</c>), while HTML-sensitive characters stay escaped. Not for specs
    /// or state: a spec's canonical JSON is its job id.
    /// </summary>
    public static readonly JsonSerializerOptions Readable = new(Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Create(System.Text.Unicode.UnicodeRanges.All),
    };

    private static JsonSerializerOptions Create(bool indented) => new(JsonSerializerDefaults.Web)
    {
        WriteIndented = indented,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        // Stage specs are registered where they are declared ([Stage] on the record), not listed on StageSpec.
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { Stages.StageRegistry.AddDerivedTypes } },
    };
}
