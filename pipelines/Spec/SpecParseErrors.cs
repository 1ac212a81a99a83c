using System.Text.Json;
using System.Text.RegularExpressions;
using Curation.Pipelines.Stages;

namespace Curation.Pipelines.Spec;

/// <summary>
/// A spec that System.Text.Json cannot read, said in the spec's own words: the field's path as validation names it
/// (<c>stages[1].minWords</c>), what the field must be (a whole number, one of the enum's values, a list …), a
/// misspelt field or stage type with the closest known name, and the line and byte of a JSON syntax error. No .NET type
/// name reaches the user.
/// </summary>
internal static partial class SpecParseErrors
{
    /// <summary>The error for an exception <see cref="JsonSerializer"/> threw while reading a spec.</summary>
    public static SpecError From(Exception e, JsonSerializerOptions options)
    {
        var (message, path) = Split(e.Message);
        path = e is JsonException json && !string.IsNullOrEmpty(json.Path) ? json.Path : path;
        var field = FieldOf(path);
        if (UnknownMember().Match(message) is { Success: true } unknown)
        {
            var known = typeof(JobSpec).Assembly.GetType(unknown.Groups["type"].Value) is { } type ? FieldsOf(type, options) : [];
            return new SpecError(field, $"unknown field '{unknown.Groups["name"].Value}'{Suggest(unknown.Groups["name"].Value, known, "field")}");
        }
        if (UnknownDiscriminator().Match(message) is { Success: true } stage)
            return new SpecError(Join(field, "type"), $"unknown stage type '{stage.Groups["id"].Value}'{Suggest(stage.Groups["id"].Value, StageTypes, "type")}");
        if (message.Contains("must specify a type discriminator", StringComparison.Ordinal))
            return new SpecError(Join(field, "type"), $"missing: every stage names its type, one of {string.Join(", ", StageTypes)}");
        if (NotConverted().Match(message) is { Success: true } converted)
            return new SpecError(field, MustBe(converted.Groups["type"].Value, options));
        if (e is JsonException { LineNumber: { } line, BytePositionInLine: { } position })
            return new SpecError(field, $"{message.TrimEnd('.')} (line {line + 1}, byte {position + 1})");
        return new SpecError(field, message);
    }

    private static IReadOnlyList<string> StageTypes => StageRegistry.All.Select(d => d.Type).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The message without System.Text.Json's " Path: … | LineNumber: … | BytePositionInLine: …" tail, and the path it named.</summary>
    private static (string Message, string? Path) Split(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0) return (message, null);
        var path = PathPart().Match(message, cut);
        return (message[..cut], path.Success ? path.Groups["path"].Value : null);
    }

    /// <summary>A JSON path as validation writes it: <c>$.stages[0].minChars</c> → <c>stages[0].minChars</c>; the root stays <c>$</c>.</summary>
    private static string FieldOf(string? path) => path is null or "$" or "" ? "$" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;

    private static string Join(string field, string member) => field == "$" ? member : $"{field}.{member}";

    private static string[] FieldsOf(Type type, JsonSerializerOptions options)
    {
        try
        {
            return options.GetTypeInfo(type).Properties.Select(p => p.Name).ToArray();
        }
        catch (NotSupportedException)
        {
            return [];
        }
    }

    /// <summary>"; did you mean 'x'?" for the closest known name (case aside, at most a third of its letters apart), else the list.</summary>
    private static string Suggest(string given, IReadOnlyList<string> known, string what)
    {
        if (known.Count == 0) return "";
        var (best, distance) = known.Select(k => (k, Distance(given.ToLowerInvariant(), k.ToLowerInvariant()))).MinBy(x => x.Item2);
        return distance <= Math.Max(1, best.Length / 3)
            ? $"; did you mean '{best}'?"
            : $"; the {what}s here are {string.Join(", ", known)}";
    }

    /// <summary>Edit distance counting a swap of two neighbouring letters as one edit (optimal string alignment).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j], d[i, j - 1]) + 1, d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    /// <summary>What a value of the named .NET type is, in JSON: "must be a whole number", "must be one of auto, jsonl, …".</summary>
    private static string MustBe(string typeName, JsonSerializerOptions options)
    {
        var inner = NullableOf().Match(typeName) is { Success: true } nullable ? nullable.Groups["type"].Value : typeName;
        if (typeof(JobSpec).Assembly.GetType(inner) is { IsEnum: true } enumType)
        {
            var names = Enum.GetValues(enumType).Cast<object>().Select(v => JsonSerializer.Serialize(v, enumType, options).Trim('"'));
            return $"must be one of {string.Join(", ", names)}";
        }
        return inner switch
        {
            "System.Int32" or "System.Int64" or "System.Int16" or "System.UInt32" or "System.UInt64" => "must be a whole number",
            "System.Double" or "System.Single" or "System.Decimal" => "must be a number",
            "System.Boolean" => "must be true or false",
            "System.String" => "must be a string",
            _ when inner.Contains("List`1", StringComparison.Ordinal) || inner.EndsWith("[]", StringComparison.Ordinal)
                || inner.Contains("Enumerable`1", StringComparison.Ordinal) => "must be a list [ … ]",
            _ when inner.Contains("Dictionary`2", StringComparison.Ordinal) => "must be an object { \"key\": value, … }",
            _ => "must be an object { … }",
        };
    }

    [GeneratedRegex(@"^The JSON property '(?<name>.*)' could not be mapped to any \.NET member contained in type '(?<type>[^']+)'\.")]
    private static partial Regex UnknownMember();

    [GeneratedRegex(@"unrecognized type discriminator id '(?<id>.*)'")]
    private static partial Regex UnknownDiscriminator();

    [GeneratedRegex(@"^The JSON value could not be converted to (?<type>\S+?)\.?$")]
    private static partial Regex NotConverted();

    [GeneratedRegex(@"^System\.Nullable`1\[\[?(?<type>[^,\]]+)")]
    private static partial Regex NullableOf();

    [GeneratedRegex(@" Path: (?<path>\S+)")]
    private static partial Regex PathPart();
}
