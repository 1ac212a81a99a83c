using Curation.SampleGenerator;

// Usage:
//   dotnet run --project samples/generator -- [all|corpus|bad-input] [--out samples] [--seed 20250917]
//       [--abstracts /work/shared/seeds/000_d9718c7cf0edaeae.txt] [--doc-root /usr/share/doc] [--parts 4]
// "all" (the default) writes the corpus, then the bad-input corpus from the corpus just written.
// "bad-input" alone needs only the checked-in corpus (samples/corpus/part-0000.jsonl), not the sources.

var command = "all";
var options = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["--out"] = "samples",
    ["--seed"] = "20250917",
    ["--abstracts"] = "/work/shared/seeds/000_d9718c7cf0edaeae.txt",
    ["--doc-root"] = "/usr/share/doc",
    ["--parts"] = "4",
};
for (var i = 0; i < args.Length; i++)
{
    if (args[i] is "all" or "corpus" or "bad-input" && i == 0) { command = args[i]; continue; }
    if (args[i] is "-h" or "--help")
    {
        Console.WriteLine("curation-sample-generator [all|corpus|bad-input] " + string.Join(' ', options.Select(o => $"[{o.Key} {o.Value}]")));
        return 0;
    }
    if (!options.ContainsKey(args[i]) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"unknown or incomplete option '{args[i]}' (try --help)");
        return 2;
    }
    options[args[i]] = args[++i];
}

var outDir = options["--out"];
var seed = ulong.Parse(options["--seed"], System.Globalization.CultureInfo.InvariantCulture);
try
{
    if (command is "all" or "corpus")
    {
        var written = CorpusCommand.Run(outDir, seed, options["--abstracts"], options["--doc-root"], int.Parse(options["--parts"], System.Globalization.CultureInfo.InvariantCulture));
        if (!written) return 1;
    }
    if (command is "all" or "bad-input") BadInput.Write(outDir, seed);
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or IOException)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 1;
}
