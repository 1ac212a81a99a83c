using System.Globalization;

namespace Curation.Bench;

/// <summary>Command-line options shared by the benchmarks.</summary>
public sealed record BenchOptions
{
    /// <summary>Documents in the generated corpus of <c>exact</c>.</summary>
    public int Docs { get; init; } = 200_000;

    /// <summary>Rows written and read by <c>parquet</c>.</summary>
    public int Rows { get; init; } = 200_000;

    /// <summary>Degree of parallelism of both sides of <c>exact</c>.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Target shard size of the <c>exact</c> job, in MiB (the spec's sharding.targetShardBytes).</summary>
    public int ShardMiB { get; init; } = 16;

    /// <summary>Timed repetitions (the median is reported); absent: each benchmark's default (parquet 5, exact 1, embed 2).</summary>
    public int? Repeat { get; init; }

    /// <summary><c>exact</c>: untimed full-size rounds of both sides before the timed ones (default 1).</summary>
    public int WarmUp { get; init; } = 1;

    /// <summary><c>parquet</c> writes to a temp file instead of a MemoryStream (both sides alike).</summary>
    public bool UseFile { get; init; }

    /// <summary>Documents of the demo corpus (samples/corpus) that <c>embed</c> embeds: an evenly spaced subset.</summary>
    public int EmbedDocs { get; init; } = 96;

    /// <summary>Documents of <c>embed</c>'s synthetic fixed-length input.</summary>
    public int FixedDocs { get; init; } = 96;

    /// <summary>Tokens (no [CLS]/[SEP]) of every document of <c>embed</c>'s synthetic input.</summary>
    public int FixedTokens { get; init; } = 128;

    /// <summary>Vectors of <c>kmeans</c>'s synthetic clustered data (384 dimensions).</summary>
    public int Vectors { get; init; } = 1_000_000;

    /// <summary>Clusters of <c>kmeans</c> (k, and the planted centres of its data).</summary>
    public int Clusters { get; init; } = 1000;

    /// <summary>Lloyd iterations of <c>kmeans</c>, both sides.</summary>
    public int Iterations { get; init; } = 10;

    /// <summary><c>kmeans</c>: the clusterDims compared with the full 384 (0 skips the comparison).</summary>
    public int ClusterDims { get; init; } = 64;

    /// <summary>Members of the one cluster whose SemDeDup pairwise stage <c>kmeans</c> times.</summary>
    public int ClusterSize { get; init; } = 20_000;

    /// <summary>Short documents of <c>near</c>'s end-to-end run.</summary>
    public int NearDocs { get; init; } = 200_000;

    /// <summary>semantic: characters of text per planted document (0: a short label, the vectors are what the stage works on).</summary>
    public int TextChars { get; init; }

    /// <summary>semantic: input files, one shard each (0: at least 16, at most ~20,000 documents each).</summary>
    public int Shards { get; init; }

    /// <summary><c>near</c>'s <c>oneTaskComponentsEdges</c> (null: the stage's default; 0: always the distributed rounds, the paired reference).</summary>
    public long? NearOneTaskEdges { get; init; }

    /// <summary>Generated prose documents of <c>near</c>'s signature throughput run (besides the demo corpus).</summary>
    public int NearSignatureDocs { get; init; } = 20_000;

    /// <summary>Inputs of <c>plan</c>, each naming one file of one folder.</summary>
    public int Inputs { get; init; } = 10_000;

    /// <summary>Size in MiB of <c>record</c>'s one record.</summary>
    public int RecordMiB { get; init; } = 60;

    /// <summary><c>gopher-repetition</c>: documents of each corpus (the sizing corpus' texts; real text in many scripts).</summary>
    public int RepetitionDocs { get; init; } = 10_000;

    /// <summary>Documents of <c>train-tokenize</c>'s multilingual corpus (demo corpus + installed translations).</summary>
    public int TokenizeDocs { get; init; } = 20_000;

    /// <summary><c>language</c>: labelled paragraphs per language (languages with fewer are left out; at least 20 must remain).</summary>
    public int LanguageDocs { get; init; } = 200;

    /// <summary><c>language-speed</c>: documents of each corpus (generated prose; real text in many scripts).</summary>
    public int LanguageSpeedDocs { get; init; } = 3000;

    /// <summary><c>embed --model static</c>: the static embedders against the transformer instead of the stage-vs-bare comparison.</summary>
    public string? Model { get; init; }

    /// <summary><c>embed</c>: the execution provider of both the pipeline's runtime and the bare session (cpu, cuda).</summary>
    public string Provider { get; init; } = "auto";

    /// <summary>Paragraphs of Debian documentation in <c>cascade</c>'s second corpus.</summary>
    public int CascadeDocs { get; init; } = 6000;

    /// <summary>static-recipes: paragraphs of English man pages in the third corpus (0 leaves it out).</summary>
    public int ManDocs { get; init; } = 5000;

    /// <summary>static-recipes, static-fit, cascade-rounds: only the variants at these indexes (0-based, comma-separated on the command line).</summary>
    public IReadOnlySet<int>? Variants { get; init; }

    /// <summary><c>read</c>: size of the generated JSONL object (suffixes K, M, G: powers of 1024).</summary>
    public long Bytes { get; init; } = 256L << 20;

    /// <summary><c>sizing</c>: the stage types measured, comma-separated (a chain), each with its defaults.</summary>
    public string? Stage { get; init; }

    /// <summary><c>sizing</c>: a JSON file of the stages measured (an array, or an object with <c>stages</c>); replaces <see cref="Stage"/>.</summary>
    public string? SpecFile { get; init; }

    /// <summary><c>sizing</c>: <c>partitions</c> of every measured stage that has them (absent: the stage's default).</summary>
    public int? Partitions { get; init; }

    /// <summary>
    /// <c>sizing</c>: <c>precision</c> of the embed stage the tool adds before d4, semantic_dedup and quality_score
    /// (<c>float32</c>, the default, or <c>float16</c>: half the disk for the vectors every later phase carries).
    /// </summary>
    public string? EmbedPrecision { get; init; }

    /// <summary>Seed of the generated data (every benchmark).</summary>
    public int Seed { get; init; } = 42;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            int Next(string name)
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{name} needs a number");
                if (!int.TryParse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value <= 0)
                    throw new ArgumentException($"{name} needs a positive integer, not '{args[i]}'");
                return value;
            }
            options = args[i] switch
            {
                "--docs" => options with { Docs = Next("--docs") },
                "--language-speed-docs" => options with { LanguageSpeedDocs = Next("--language-speed-docs") },
                "--repetition-docs" => options with { RepetitionDocs = Next("--repetition-docs") },
                "--rows" => options with { Rows = Next("--rows") },
                "--threads" => options with { Threads = Next("--threads") },
                "--shard-mb" => options with { ShardMiB = Next("--shard-mb") },
                "--repeat" => options with { Repeat = Next("--repeat") },
                "--warm-up" => options with { WarmUp = Next("--warm-up") },
                "--seed" => options with { Seed = Next("--seed") },
                "--embed-docs" => options with { EmbedDocs = Next("--embed-docs") },
                "--fixed-docs" => options with { FixedDocs = Next("--fixed-docs") },
                "--fixed-tokens" => options with { FixedTokens = Next("--fixed-tokens") },
                "--file" => options with { UseFile = true },
                "--provider" => options with { Provider = i + 1 < args.Length && args[i + 1] is "cpu" or "cuda" or "auto" ? args[++i] : throw new ArgumentException("--provider needs cpu, cuda or auto") },
                "--cascade-docs" => options with { CascadeDocs = Next("--cascade-docs") },
                "--man-docs" => options with { ManDocs = Next("--man-docs") },
                "--variants" => options with { Variants = args[++i].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToHashSet() },
                "--model" => options with { Model = i + 1 < args.Length ? args[++i] : throw new ArgumentException("--model needs a name (static)") },
                "--vectors" => options with { Vectors = Next("--vectors") },
                "--clusters" => options with { Clusters = Next("--clusters") },
                "--iterations" => options with { Iterations = Next("--iterations") },
                "--cluster-dims" => options with { ClusterDims = Next("--cluster-dims") },
                "--cluster-size" => options with { ClusterSize = Next("--cluster-size") },
                "--near-docs" => options with { NearDocs = Next("--near-docs") },
                "--text-chars" => options with { TextChars = Next("--text-chars") },
                "--shards" => options with { Shards = Next("--shards") },
                "--near-one-task-edges" => options with
                {
                    NearOneTaskEdges = i + 1 < args.Length && long.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var edges) ? edges
                        : throw new ArgumentException("--near-one-task-edges needs a number ≥ 0"),
                },
                "--near-signature-docs" => options with { NearSignatureDocs = Next("--near-signature-docs") },
                "--inputs" => options with { Inputs = Next("--inputs") },
                "--mb" => options with { RecordMiB = Next("--mb") },
                "--tokenize-docs" => options with { TokenizeDocs = Next("--tokenize-docs") },
                "--language-docs" => options with { LanguageDocs = Next("--language-docs") },
                "--stage" => options with { Stage = i + 1 < args.Length ? args[++i] : throw new ArgumentException("--stage needs a stage type (exact_dedup, or a,b for a chain)") },
                "--spec" => options with { SpecFile = i + 1 < args.Length ? args[++i] : throw new ArgumentException("--spec needs a JSON file of stages") },
                "--partitions" => options with { Partitions = Next("--partitions") },
                "--embed-precision" => options with
                {
                    EmbedPrecision = i + 1 < args.Length && args[i + 1] is "float32" or "float16"
                        ? args[++i] : throw new ArgumentException("--embed-precision needs float32 or float16"),
                },
                "--bytes" => options with { Bytes = i + 1 < args.Length ? ParseBytes(args[++i]) : throw new ArgumentException("--bytes needs a size (e.g. 2G)") },
                _ => throw new ArgumentException($"unknown option '{args[i]}'"),
            };
        }
        return options;
    }

    /// <summary>A size such as 2G, 512M, 100K or 1000 (bytes); suffixes are powers of 1024.</summary>
    private static long ParseBytes(string text)
    {
        var unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L };
        var digits = unit == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value <= 0)
            throw new ArgumentException($"--bytes needs a positive size such as 2G, not '{text}'");
        return checked(value * unit);
    }

    public static string Usage(IEnumerable<string> benchmarks) => $"""
        usage: dotnet run -c Release --project bench/Curation.Bench -- <benchmark> [options]
          benchmark: all | {string.Join(" | ", benchmarks)}
          --rows N           parquet: rows written and read (default 200000)
          --repeat N         timed repetitions, median reported (default: parquet 5 pairs; exact 1, embed 2: N pipeline
                             runs alternate with N + 1 bare runs, and in embed N naive runs with N + 1 bucketed runs)
          --file             parquet: write to a temp file instead of a MemoryStream (both sides)
          --docs N           exact: documents in the generated corpus; semantic: planted documents (default 200000)
          --threads N        exact, embed: tasks of a pipeline phase run at once; exact: threads of the bare loop
                             (default: logical cores)
          --shard-mb N       exact: the job's target shard size in MiB (default 16)
          --warm-up N        exact: untimed full-size rounds (bare, pipeline) before the timed ones (default 1); each
                             prints the seconds the JIT compiled in it
          --repetition-docs N  gopher-repetition: documents of each corpus, the sizing corpus' texts and real text in many
                             scripts (default 10000; --repeat: rounds, default 5)
          --embed-docs N     embed: documents of the demo corpus, an evenly spaced subset (default 96 of 2000)
          --model static     embed: static embedders (distilled table, input-row mean) against the transformer,
                             docs/s on the same demo documents and threads (--embed-docs, --threads, --repeat)
          --fixed-docs N     embed: documents of the synthetic fixed-length input (default 96)
          --fixed-tokens N   embed: tokens of each synthetic document, [CLS]/[SEP] not counted (default 128)
          --vectors N        kmeans: synthetic 384-dim vectors clustered, ours vs FAISS (default 1000000)
          --clusters N       kmeans: k (default 1000)
          --iterations N     kmeans: Lloyd iterations, both sides (default 10)
          --cluster-dims N   kmeans: k-means in a PCA projection of N dims vs the full 384 on the same data with planted
                             near-duplicates: assignment time, objective, agreement, SemDeDup pair recall (default 64; 0: off)
          --cluster-size N   kmeans: members of the cluster whose SemDeDup pairwise stage is timed (default 20000)
                             (kmeans also uses --threads and --seed; --repeat N: N pairs of k-means runs, default 1)
          --near-docs N      near: short documents of the end-to-end run (default 200000; the README's figure: 1000000)
          --text-chars N     semantic: characters of text per planted document (default 0: a short label)
          --shards N         semantic: input files, one shard each (default: at least 16, ~20,000 documents each)
          --near-one-task-edges N  near: the stage's oneTaskComponentsEdges (default: the stage's, 1000000; 0: distributed rounds)
          --near-signature-docs N  near: generated prose documents of the signature run (default 20000)
                             (near also uses --threads, --shard-mb and --repeat: signature timings, median, default 3)
          --inputs N         plan: inputs, each naming one file of one folder (default 10000; goal: plans in < 5 s)
          --bytes N[K|M|G]   read: size of the one generated JSONL object (default 256M); read also uses --shard-mb
                             (part size) and --threads
          --mb N             record: size of the one record in MiB (default 8, the MaxRecordBytes ceiling; goal: peak RSS < 1 GiB)
          --tokenize-docs N  train-tokenize: documents of the multilingual corpus (default 20000; --repeat: best of N, default 3)
          --stage T[,T2…]    sizing: the stage type(s) measured, read → T → … → output, each with its defaults (default
                             exact_dedup); --docs N documents, --partitions N on stages that have them, --shard-mb, --threads
          --spec FILE        sizing: the stages as JSON (an array, or a job file's "stages") instead of --stage
          --language-docs N  language: labelled paragraphs per language, ≥ 20 languages (default 200; --repeat: best of N, default 3)

          --provider P       embed: cpu | cuda | auto (default) for the pipeline's runtime and the bare loop alike
          --cascade-docs N   cascade: paragraphs of /usr/share/doc in the second corpus (default 6000)
          --man-docs N       static-recipes: paragraphs of /usr/share/man in the third corpus (default 5000, 0: left out)
          --variants 0,3     static-recipes, static-fit, cascade-rounds: only these variants (0-based)
          --seed N           seed of the generated data (default 42)
        """;
}
