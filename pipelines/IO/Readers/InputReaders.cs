using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO.Readers;

/// <summary>Chooses the reader for an input object.</summary>
public static class InputReaders
{
    /// <summary>Extensions <see cref="InputFormat.Auto"/> recognises (case-insensitive), longest first.</summary>
    private static readonly (string Extension, InputFormat Format)[] Extensions =
    [
        (".jsonl.gz", InputFormat.JsonlGz), (".ndjson.gz", InputFormat.JsonlGz), (".json.gz", InputFormat.JsonlGz),
        (".jsonl.zst", InputFormat.JsonlZst), (".ndjson.zst", InputFormat.JsonlZst), (".json.zst", InputFormat.JsonlZst), (".zst", InputFormat.JsonlZst),
        (".jsonl", InputFormat.Jsonl), (".ndjson", InputFormat.Jsonl), (".json", InputFormat.Jsonl),
        (".warc.gz", InputFormat.WarcGz), (".warc.wet.gz", InputFormat.WarcGz), (".wet.gz", InputFormat.WarcGz),
        (".warc", InputFormat.Warc), (".wet", InputFormat.Warc),
        (".html", InputFormat.Html), (".htm", InputFormat.Html),
        (".parquet", InputFormat.Parquet),
        (".txt", InputFormat.Txt), (".md", InputFormat.Txt),
    ];

    /// <summary>The extensions <see cref="InputFormat.Auto"/> recognises, for messages and docs.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = Extensions.Select(e => e.Extension).ToArray();

    /// <summary>
    /// The reader for <paramref name="key"/> (an object's key or path) under <paramref name="spec"/>: the spec's
    /// format, or with <see cref="InputFormat.Auto"/> the key's extension. The planner calls this for every object
    /// before a job starts, so an object nobody can read fails the job up front, by name.
    /// </summary>
    /// <exception cref="ArgumentException">Auto format and an extension not in <see cref="SupportedExtensions"/>.</exception>
    public static IInputReader For(InputSpec spec, string key)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(key);
        var format = spec.Format == InputFormat.Auto ? FormatOf(key) : spec.Format;
        return format switch
        {
            InputFormat.Jsonl => JsonlReader.Plain,
            InputFormat.JsonlGz => JsonlReader.Gzip,
            InputFormat.JsonlZst => JsonlReader.Zstd,
            InputFormat.Parquet => ParquetInputReader.Instance,
            InputFormat.Txt => TextInputReader.Instance,
            InputFormat.Warc => WarcReader.Plain,
            InputFormat.WarcGz => WarcReader.Gzip,
            InputFormat.Html => HtmlFileReader.Instance,
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Format, $"Unknown input format for '{key}'."),
        };
    }

    /// <summary>The format the key's extension implies.</summary>
    /// <exception cref="ArgumentException">The extension is not one <see cref="InputFormat.Auto"/> recognises.</exception>
    public static InputFormat FormatOf(string key)
    {
        foreach (var (extension, format) in Extensions)
            if (key.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                return format;
        throw new ArgumentException(
            $"Cannot tell the format of input object '{key}' from its extension: supported are {string.Join(", ", SupportedExtensions)}; " +
            "set the input's \"format\" (jsonl, jsonl_gz, jsonl_zst, parquet, txt, warc, warc_gz, html) to read it anyway.", nameof(key));
    }
}
