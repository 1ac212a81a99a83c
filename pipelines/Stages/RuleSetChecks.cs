using Curation.Pipelines.Text;

namespace Curation.Pipelines.Stages;

/// <summary>A bound on an n-gram measure: n words and the largest fraction of the text's characters.</summary>
public sealed record NGramLimit(int N, double MaxFraction);

/// <summary>Validation shared by the stages with script-aware character thresholds and n-gram limits.</summary>
public static class RuleSetChecks
{
    /// <summary>Keys are script names (<see cref="Scripts.Name"/>) or language codes; values in (0, 10].</summary>
    public static void CharScale(StageChecks check, IReadOnlyDictionary<string, double>? scale)
    {
        if (scale is null) return;
        check.ListLength(scale.Keys.ToList(), "charScale");
        foreach (var (key, value) in scale)
            check.That(!string.IsNullOrWhiteSpace(key) && value is > 0 and <= 10, $"charScale.{key}", "must be in (0, 10]");
    }

    public static void NGrams(StageChecks check, IReadOnlyList<NGramLimit>? limits, string field)
    {
        if (limits is null) return;
        check.ListLength(limits, field);
        for (var i = 0; i < limits.Count; i++)
        {
            check.That(limits[i].N is >= 1 and <= 64, $"{field}[{i}].n", "must be between 1 and 64");
            check.That(limits[i].MaxFraction is > 0 and <= 1, $"{field}[{i}].maxFraction", "must be in (0, 1]");
        }
    }

    /// <summary>A measured value or threshold as a drop's detail shows it (invariant culture, at most 3 decimals).</summary>
    public static string Show(double v) => v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An optional ratio: null disables the rule, otherwise in [0, 1].</summary>
    public static void Ratio(StageChecks check, double? value, string field) =>
        check.That(value is null or (>= 0 and <= 1), field, "must be in [0, 1] (null disables the rule)");
}
