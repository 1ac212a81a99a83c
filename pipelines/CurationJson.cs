using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Curation.Pipelines;

/// <summary>The one JSON convention of the product: camelCase, enums as strings, indented for humans.</summary>
public static class CurationJson
{
    public static readonly JsonSerializerOptions Options = Create(indented: true);
    public static readonly JsonSerializerOptions Compact = Create(indented: false);

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
