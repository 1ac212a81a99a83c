using System.Globalization;
using System.Reflection;
using Curation.Grains.Hosting;
using Curation.Grains.Jobs;
using Curation.Grains.Schedules;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Silo.Api;
using Microsoft.Extensions.Options;

namespace Curation.Silo.Hosting;

/// <summary>
/// Every <c>Curation:…</c> key the silo reads, and the check that the configuration names no other: a misspelt key
/// (<c>Curation__Storage__RootPath</c>, <c>Curation__Execution__MaxTaskAttempt</c>) was silently ignored and the silo ran
/// on the default. Keys bind to the options classes of their section (names case-insensitive, list entries by index).
/// </summary>
public static class ConfigurationKeys
{
    public const string Root = "Curation";

    /// <summary>The options class each section binds to.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase)
    {
        [ApiOptions.Section] = typeof(ApiOptions),
        [CurationClusterOptions.Section] = typeof(CurationClusterOptions),
        [EmbeddingRuntimeOptions.Section] = typeof(EmbeddingRuntimeOptions),
        [CurationExecutionOptions.Section] = typeof(CurationExecutionOptions),
        [JobRegistryOptions.Section] = typeof(JobRegistryOptions),
        [JobLimits.Section] = typeof(JobLimits),
        [ScheduleOptions.Section] = typeof(ScheduleOptions),
        [CurationStoreOptions.Section] = typeof(CurationStoreOptions),
    };

    /// <summary>Keys read one by one rather than through an options class.</summary>
    private static readonly Dictionary<string, Type> Single = new(StringComparer.OrdinalIgnoreCase)
    {
        [SiloRoleOptions.Section] = typeof(List<string>),
        [ShutdownWatchdog.TimeoutKey] = typeof(TimeSpan),
    };

    /// <summary>The type <paramref name="key"/> binds to, or null when the silo reads no such key.</summary>
    public static Type? Resolve(string key)
    {
        var parts = key.Split(':');
        for (var length = parts.Length; length >= 2; length--)
        {
            var head = string.Join(':', parts[..length]);
            if ((Sections.GetValueOrDefault(head) ?? Single.GetValueOrDefault(head)) is { } type) return Walk(type, parts[length..]);
        }
        return null;
    }

    private static Type? Walk(Type type, IEnumerable<string> parts)
    {
        foreach (var part in parts)
        {
            if (ElementOf(type) is { } element)
            {
                // A list entry (Keys:0:Key): the index selects an element; the next part is the element's property.
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _)) return null;
                type = element;
                continue;
            }
            if (Settable(type).FirstOrDefault(p => p.Name.Equals(part, StringComparison.OrdinalIgnoreCase)) is not { } property) return null;
            type = property.PropertyType;
        }
        return type;
    }

    private static Type? ElementOf(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
        : null;

    /// <summary>The properties the binder sets: public, with a public setter, or a class it fills in place.</summary>
    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } || p.PropertyType.IsClass && p.PropertyType != typeof(string));

    /// <summary>A sentence for each key under <c>Curation</c> that the silo does not read, with the nearest name it does.</summary>
    public static IReadOnlyList<string> Unknown(IConfiguration configuration)
    {
        var problems = new List<string>();
        foreach (var leaf in Leaves(configuration.GetSection(Root)))
            if (Resolve(leaf.Path) is null) problems.Add(Explain(leaf.Path));
        return problems;
    }

    /// <summary>Throws the configuration error <c>curate</c> prints (exit code 2) when <see cref="Unknown"/> finds any.</summary>
    public static void ThrowIfUnknown(IConfiguration configuration)
    {
        if (Unknown(configuration) is { Count: > 0 } problems) throw new OptionsValidationException(Root, typeof(ConfigurationKeys), problems);
    }

    private static IEnumerable<IConfigurationSection> Leaves(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0)
        {
            if (section.Path != Root) yield return section;
            yield break;
        }
        foreach (var child in children)
            foreach (var leaf in Leaves(child))
                yield return leaf;
    }

    private static string Explain(string key)
    {
        var parts = key.Split(':');
        // The longest prefix the silo knows says where the name went wrong, and which names it could have been.
        for (var length = parts.Length - 1; length >= 1; length--)
        {
            var head = string.Join(':', parts[..length]);
            string[]? names = null;
            if (length >= 2 && Resolve(head) is { } type)
                names = ElementOf(type) is null ? Settable(type).Select(p => p.Name).ToArray() : [];
            else if (Sections.Keys.Concat(Single.Keys).Where(k => k.StartsWith(head + ":", StringComparison.OrdinalIgnoreCase))
                         .Select(k => k.Split(':')[length]).Distinct(StringComparer.OrdinalIgnoreCase).ToArray() is { Length: > 0 } below)
                names = below;
            if (names is null) continue;
            var wrong = parts[length];
            Array.Sort(names, StringComparer.Ordinal);
            var near = names.Select(n => (Name: n, Distance: Distance(n.ToLowerInvariant(), wrong.ToLowerInvariant())))
                .Where(n => n.Distance <= Math.Max(2, wrong.Length / 3)).OrderBy(n => n.Distance).Select(n => n.Name).FirstOrDefault();
            var list = names.Length == 0 ? "" : $" ({head} has {string.Join(", ", names)})";
            return $"{key}: '{wrong}' is not a setting the silo reads{list}" + (near is null ? "" : $"; did you mean {head}:{near}?");
        }
        return $"{key} is not a setting the silo reads";
    }

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}
