using Microsoft.Extensions.DependencyInjection;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Curation.Grains.Placement;

/// <summary>
/// What a silo may run, declared in configuration (<c>Curation:Silo:Roles</c>) and published as silo metadata so
/// placement can see it. <c>embed</c>: can run embedding (has the model; a GPU when it also has <c>gpu</c>).
/// A silo without explicit roles is <c>cpu</c> + <c>embed</c>, so a single CPU silo still runs everything.
/// </summary>
public static class SiloRoles
{
    public const string MetadataKey = "curation.roles";
    public const string Cpu = "cpu";
    public const string Gpu = "gpu";
    public const string Embed = "embed";

    public static readonly IReadOnlyList<string> Default = [Cpu, Embed];

    public static string Format(IEnumerable<string> roles) =>
        string.Join(',', roles.Select(r => r.Trim().ToLowerInvariant()).Where(r => r.Length > 0).Distinct().Order(StringComparer.Ordinal));

    public static IReadOnlySet<string> Parse(string? value) =>
        (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Places a grain only on silos whose roles include <c>embed</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class EmbedSilosOnlyAttribute() : PlacementFilterAttribute(new EmbedSilosOnlyFilterStrategy());

public sealed class EmbedSilosOnlyFilterStrategy() : PlacementFilterStrategy(0);

public sealed class EmbedSilosOnlyFilterDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var able = silos.Where(silo => SiloRoles.Parse(metadata.GetSiloMetadata(silo).Metadata.GetValueOrDefault(SiloRoles.MetadataKey))
            .Contains(SiloRoles.Embed)).ToList();
        return able.Count > 0
            ? able
            : throw new InvalidOperationException(
                $"No silo in the cluster has the '{SiloRoles.Embed}' role, so embedding cannot be placed. Give at least one silo " +
                $"Curation:Silo:Roles containing '{SiloRoles.Embed}'.");
    }
}

public static class SiloRolesExtensions
{
    /// <summary>Publishes this silo's roles and installs the embed placement filter.</summary>
    public static ISiloBuilder AddSiloRoles(this ISiloBuilder silo, IEnumerable<string> roles)
    {
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRoles.MetadataKey] = SiloRoles.Format(roles) });
        silo.Services.AddPlacementFilter<EmbedSilosOnlyFilterStrategy, EmbedSilosOnlyFilterDirector>(ServiceLifetime.Singleton);
        return silo;
    }
}
