using Curation.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Curation.Grains;

public static class CurationSerialization
{
    /// <summary>
    /// Pipelines types (task refs, stats, accounting) cross grain calls as JSON: the pure library stays free of
    /// Orleans attributes. Silos and clients must both call this.
    /// </summary>
    public static ISerializerBuilder AddCurationTypes(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(
            isSupported: type => type.Namespace?.StartsWith("Curation.Pipelines", StringComparison.Ordinal) == true,
            jsonSerializerOptions: CurationJson.Compact);
}
