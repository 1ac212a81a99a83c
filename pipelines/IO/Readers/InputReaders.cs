using Curation.Pipelines.Spec;

namespace Curation.Pipelines.IO.Readers;

/// <summary>Chooses the reader for an input object.</summary>
public static class InputReaders
{
    /// <summary>Extensions <see cref="InputFormat.Auto"/> recognises (case-insensitive): the first that ends the key wins, so <c>.txt.zst</c> comes before <c>.zst</c>.</summary>
    private static readonly (string Extension, InputFormat Format)[] Extensions =
    [
        // Plain text, CSV and HTML readers decompress an object whose first bytes are gzip or zstd (Decompression.SniffAsync).
        (".csv", InputFormat.Csv), (".tsv", InputFormat.Csv), (".csv.gz", InputFormat.Csv), (".tsv.gz", InputFormat.Csv),
        (".csv.zst", InputFormat.Csv), (".tsv.zst", InputFormat.Csv),
        (".txt.gz", InputFormat.Txt), (".md.gz", InputFormat.Txt), (".txt.zst", InputFormat.Txt), (".md.zst", InputFormat.Txt),
        (".html.gz", InputFormat.Html), (".htm.gz", InputFormat.Html), (".html.zst", InputFormat.Html), (".htm.zst", InputFormat.Html),
        (".jsonl.gz", InputFormat.JsonlGz), (".ndjson.gz", InputFormat.JsonlGz), (".json.gz", InputFormat.JsonlGz),
        (".jsonl.zst", InputFormat.JsonlZst), (".ndjson.zst", InputFormat.JsonlZst), (".json.zst", InputFormat.JsonlZst), (".zst", InputFormat.JsonlZst),
        (".jsonl", InputFormat.Jsonl), (".ndjson", InputFormat.Jsonl), (".json", InputFormat.Jsonl),
        (".warc.gz", InputFormat.WarcGz), (".warc.wet.gz", InputFormat.WarcGz), (".wet.gz", InputFormat.WarcGz),
        (".warc", InputFormat.Warc), (".wet", InputFormat.Warc),
        (".html", InputFormat.Html), (".htm", InputFormat.Html),
        (".parquet", InputFormat.Parquet),
        (".txt", InputFormat.Txt), (".md", InputFormat.Txt),
    ];

    /// <summary>Compressions no reader decompresses, by extension: named in the error, with what to do instead.</summary>
    private static readonly (string Extension, string Name)[] Unread =
    [
        (".xz", "xz"), (".bz2", "bzip2"), (".lz4", "lz4"), (".lzma", "lzma"), (".br", "brotli"), (".zip", "zip"), (".7z", "7-Zip"), (".tar", "tar"),
        (".tgz", "tar"),
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
            InputFormat.Csv => CsvInputReader.Instance,
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
        foreach (var (extension, name) in Unread)
        {
            if (!key.EndsWith(extension, StringComparison.OrdinalIgnoreCase) && !key.Contains(extension + ".", StringComparison.OrdinalIgnoreCase)) continue;
            var file = Path.GetFileName(key);
            var instead = name is "zip" or "7-Zip" or "tar"
                ? "unpack it into files of a supported format"
                : $"recompress it with zstd or gzip (`{name} -dc {file} | zstd -o {Path.GetFileNameWithoutExtension(file)}.zst`)";
            throw new ArgumentException($"input object '{key}' is {(name is "xz" or "lz4" or "lzma" ? "an" : "a")} {name} file, which Curation does not read: {instead}");
        }
        throw new ArgumentException(
            $"cannot tell the format of input object '{key}' from its extension: supported are {string.Join(", ", SupportedExtensions)}; " +
            "set the input's \"format\" (jsonl, jsonl_gz, jsonl_zst, parquet, csv, txt, warc, warc_gz, html) to read it anyway");
    }
}
