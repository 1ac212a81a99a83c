namespace Curation.Pipelines.Stages;

/// <summary>
/// One document's pass through a rule set whose first failing rule names the drop, and what it gives the what-if: each
/// thresholded rule's value is recorded over the documents every OTHER rule passes. A document another rule removes stays
/// removed whatever this threshold becomes, so removed(t) = (documents − recorded) + recorded beyond t — exact at the
/// histogram's edges, whatever the rule's place in the order. Rules run past the first failure only until the outcome is
/// <see cref="Settled"/>, so a kept document costs what it did.
/// </summary>
public sealed class RuleOutcome
{
    private readonly List<(ThresholdMeasure Measure, double? Value, bool Fails)> _measured = [];
    private int _failures;
    private bool _failedUnthresholded;

    /// <summary>The first failing rule's reason and detail; null while every rule passed.</summary>
    public (string Reason, string Detail)? Drop { get; private set; }

    /// <summary>
    /// Nothing later can change the outcome: two rules failed, or one without a movable threshold did (no histogram records
    /// the document either way).
    /// </summary>
    public bool Settled => _failures >= 2 || _failedUnthresholded;

    /// <summary>A rule without a movable threshold (or whose threshold is disabled).</summary>
    public void Rule(bool fails, string reason, Func<string> detail)
    {
        if (!fails) return;
        _failedUnthresholded = true;
        Fail(reason, detail);
    }

    /// <summary>A thresholded rule: its measure (null when the rule is disabled), the document's value and whether it fails.</summary>
    public void Rule(ThresholdMeasure? measure, double value, bool fails, string reason, Func<string> detail)
    {
        if (measure is null)
        {
            Rule(fails, reason, detail);
            return;
        }
        _measured.Add((measure, value, fails));
        if (fails) Fail(reason, detail);
    }

    /// <summary>Thresholded rules that do not apply to this document: no threshold of theirs removes it.</summary>
    public void NotApplicable(params ReadOnlySpan<ThresholdMeasure?> measures)
    {
        foreach (var measure in measures)
            if (measure is not null) _measured.Add((measure, null, false));
    }

    private void Fail(string reason, Func<string> detail)
    {
        _failures++;
        Drop ??= (reason, detail());
    }

    /// <summary>Drops the row for the first failure and records the measures the what-if counts.</summary>
    public void Apply(DropCollector drops, int row)
    {
        if (Drop is { } d) drops.Drop(row, d.Reason, d.Detail);
        if (Settled) return;
        foreach (var (measure, value, fails) in _measured)
        {
            if (_failures == 1 && !fails) continue;
            if (value is { } v) drops.Measure(measure, v);
            else drops.MeasureNone(measure);
        }
    }
}

/// <summary>Finding a spec's thresholded measure by field.</summary>
public static class ThresholdedSpecs
{
    /// <summary>The measure of <paramref name="field"/>, or null when the spec does not threshold it (a disabled rule).</summary>
    public static ThresholdMeasure? Threshold(this IThresholdedSpec spec, string field) => spec.Thresholds.FirstOrDefault(t => t.Field == field);
}
