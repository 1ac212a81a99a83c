using System.Reflection;
using Microsoft.Extensions.Options;

namespace Curation.Silo.Hosting;

/// <summary>
/// A wrong setting (<c>Curation__Execution__MaxTaskAttempts=0</c>, <c>=abc</c>, an unknown API key role) said in one
/// sentence. Options are validated when first read, which for most is inside the Orleans silo's start: the host then logged
/// "Hosting failed to start" and the CLI printed the exception twice with its stack. <see cref="ValidateNow"/> reads every
/// validated Curation options type right after the host is built, and <see cref="Describe"/> turns what it throws into
/// the sentence <c>curate</c> prints before exiting with code 2.
/// </summary>
public static partial class ConfigurationErrors
{
    /// <summary>The options types <paramref name="services"/> validates (an <see cref="IValidateOptions{TOptions}"/> is registered), ours only.</summary>
    public static Type[] ValidatedOptions(IServiceCollection services) =>
    [
        .. services.Select(d => d.ServiceType)
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IValidateOptions<>))
            .Select(t => t.GetGenericArguments()[0])
            .Where(t => t.Namespace?.StartsWith("Curation.", StringComparison.Ordinal) == true)
            .Distinct(),
    ];

    /// <summary>Reads each of <paramref name="types"/> once (binding and validating it): a wrong setting throws here, before the host starts.</summary>
    public static void ValidateNow(IServiceProvider services, IEnumerable<Type> types)
    {
        ConfigurationKeys.ThrowIfUnknown(services.GetRequiredService<IConfiguration>());
        foreach (var type in types)
        {
            var options = services.GetRequiredService(typeof(IOptions<>).MakeGenericType(type));
            try
            {
                _ = options.GetType().GetProperty(nameof(IOptions<object>.Value))!.GetValue(options);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            }
        }
    }

    /// <summary>The configuration problem <paramref name="exception"/> (or an exception inside it) reports, or null when it is not one.</summary>
    public static string? Describe(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e.InnerException)
        {
            // Several problems: one per line, under the first.
            if (e is OptionsValidationException invalid) return string.Join("\n  ", invalid.Failures);
            // The configuration binder's own message names the key, the value and a .NET type: "Failed to convert configuration
            // value 'abc' at 'Curation:Execution:MaxTaskAttempts' to type 'System.Int32'." — said in the setting's words.
            if (e is InvalidOperationException && Unconvertible().Match(e.Message) is { Success: true } m)
                return $"{m.Groups["key"].Value}: '{m.Groups["value"].Value}' {Expected(m.Groups["type"].Value)}.";
        }
        return null;
    }

    private static string Expected(string typeName)
    {
        var type = Type.GetType(typeName) ?? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName)).FirstOrDefault(t => t is not null);
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            { IsEnum: true } => $"is not one of {string.Join(", ", Enum.GetNames(type))}",
            _ when type == typeof(int) || type == typeof(long) => "is not a whole number",
            _ when type == typeof(double) || type == typeof(float) => "is not a number",
            _ when type == typeof(bool) => "is not true or false",
            _ when type == typeof(TimeSpan) => "is not a time span (hh:mm:ss, e.g. 00:05:00)",
            _ => $"cannot be read as {type?.Name ?? typeName}",
        };
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']*)' to type '(?<type>[^']*)'")]
    private static partial System.Text.RegularExpressions.Regex Unconvertible();
}
