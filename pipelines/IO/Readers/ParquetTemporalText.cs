using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Curation.Pipelines.IO.Readers;

/// <summary>
/// Parquet dates, times and timestamps as ISO 8601 text that is the same on every machine: a date as <c>2024-02-01</c>, a
/// time of day as <c>10:30:00.5</c>, a UTC-adjusted timestamp as <c>2024-01-01T08:30:00Z</c> and a local (not adjusted,
/// "naive") one as <c>2024-01-01T10:30:00.123</c>, without an offset: Parquet.Net gives it the machine's local kind, and
/// formatting that would write the silo's time zone into the curated shards. Fractions of a second are written only when
/// not zero.
/// </summary>
internal static class ParquetTemporalText
{
    /// <summary>How input Parquet files are opened: dates as <see cref="DateOnly"/>, not as midnight timestamps.</summary>
    public static ParquetOptions ReaderOptions => new() { UseDateOnlyTypeForDates = true };

    private const string DateTimePattern = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFF";

    public static string Date(DateOnly value) => value.ToString("yyyy'-'MM'-'dd", CultureInfo.InvariantCulture);

    public static string Time(TimeOnly value) => value.ToString("HH':'mm':'ss.FFFFFFF", CultureInfo.InvariantCulture);

    public static string Timestamp(DateTime value, bool utc) =>
        utc
            ? (value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).ToString(DateTimePattern + "'Z'", CultureInfo.InvariantCulture)
            : value.ToString(DateTimePattern, CultureInfo.InvariantCulture);

    public static string Timestamp(DateTimeOffset value) => Timestamp(value.UtcDateTime, utc: true);

    /// <summary>Whether a timestamp column holds UTC instants (Parquet's <c>isAdjustedToUTC</c>; Impala's INT96 are local).</summary>
    public static bool IsUtc(DataField field) => field is DateTimeDataField { IsAdjustedToUTC: true, DateTimeFormat: not Parquet.Schema.DateTimeFormat.Impala };

    /// <summary>
    /// A TIME column's raw value (Parquet.Net reads it as the integer it is stored as) as a time of day: milliseconds in an
    /// INT32, micro- or nanoseconds in an INT64 as its logical type says.
    /// </summary>
    public static string TimeOfDay(TimeDataField field, long raw)
    {
        var unit = field.SchemaElement?.LogicalType?.TIME?.Unit;
        var ticks = unit?.NANOS is not null ? raw / 100
            : unit?.MILLIS is not null || field.SchemaElement?.Type == Parquet.Meta.Type.INT32 ? raw * TimeSpan.TicksPerMillisecond
            : raw * TimeSpan.TicksPerMicrosecond;
        return ticks is >= 0 and < TimeSpan.TicksPerDay ? Time(new TimeOnly(ticks)) : raw.ToString(CultureInfo.InvariantCulture);
    }
}
