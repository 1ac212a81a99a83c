using Curation.Pipelines;
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
            // Exceptions stay with Orleans' exception codec (message, type name and inner exceptions survive), never JSON.
            isSupported: type => type.Namespace?.StartsWith("Curation.Pipelines", StringComparison.Ordinal) == true
                                 && !typeof(Exception).IsAssignableFrom(type),
            jsonSerializerOptions: CurationJson.Compact);
}
