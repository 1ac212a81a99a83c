using System.CommandLine;
using System.Text.Json;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Training;

namespace Curation.Silo.Commands;

/// <summary>
/// <c>curate inspect tokens &lt;path&gt;</c>: reads a local token file of the output (Megatron <c>.bin/.idx</c> or npy pair)
/// and prints its format, dtype, documents and tokens, then decodes one document back to text. The tokenizer comes
/// from <c>--encoding</c>, else from the manifest above the file (<c>tokens.tokenizer</c>), else o200k_base.
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var command = new Command("inspect", "Inspect local outputs of a job.");
        command.Subcommands.Add(Tokens());
        command.Subcommands.Add(InspectOutputCommands.Document());
        command.Subcommands.Add(InspectOutputCommands.Drops());
        return command;
    }

    private static Command Tokens()
    {
        var path = new Argument<string>("path") { Description = "A token file (part-00000.bin, .idx, .tokens.npy, .offsets.npy) or its prefix." };
        var document = new Option<int>("--document") { Description = "Document (sequence) to decode, 0-based; -1 decodes none.", DefaultValueFactory = _ => 0 };
        var encoding = new Option<string?>("--encoding") { Description = "Tokenizer encoding (o200k_base, cl100k_base, r50k_base, gpt2); default: the manifest's." };
        var tokenizerPath = new Option<string?>("--tokenizer-path") { Description = ".tiktoken file the job used instead of the shipped ranks." };
        var command = new Command("tokens", "Print a token file's documents, tokens and dtype, and decode one document.") { path, document, encoding, tokenizerPath };
        command.SetAction(parse =>
        {
            try
            {
                using var reader = TokenFileReader.Open(Path.GetFullPath(parse.GetValue(path)!));
                Console.WriteLine($"file       {reader.TokensPath}");
                Console.WriteLine($"format     {reader.Format}");
                Console.WriteLine($"dtype      {reader.DType.Name()}");
                Console.WriteLine($"documents  {reader.Documents}");
                Console.WriteLine($"tokens     {reader.Tokens}");
                var which = parse.GetValue(document);
                if (which < 0) return 0;
                if (which >= reader.Documents)
                {
                    Console.Error.WriteLine($"--document {which}: the file has {reader.Documents} documents.");
                    return 2;
                }
                var name = parse.GetValue(encoding) ?? EncodingFromManifest(reader.TokensPath) ?? "o200k_base";
                var tokenizer = TrainingTokenizer.For(new TrainTokenizeStageSpec { Encoding = name, TokenizerPath = parse.GetValue(tokenizerPath) });
                var ids = reader.ReadDocument(which);
                var eod = ids.Length > 0 && ids[^1] == tokenizer.EndOfDocument;
                Console.WriteLine($"tokenizer  {tokenizer.Name} (end of document {tokenizer.EndOfDocument})");
                Console.WriteLine($"document {which}: {ids.Length} tokens{(eod ? ", the last one end-of-document" : ", NO end-of-document token")}");
                // Shown as text, never interpreted: no markup, and no control character reaches the terminal.
                Console.WriteLine(InspectOutputCommands.Visible(tokenizer.Decode(eod ? ids[..^1] : ids), -1, oneLine: false));
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>The tokenizer named by the nearest manifest.json above the file, when its tokens section names a shipped encoding.</summary>
    private static string? EncodingFromManifest(string file)
    {
        for (var dir = Path.GetDirectoryName(file); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var manifest = Path.Combine(dir, "manifest.json");
            if (!File.Exists(manifest)) continue;
            using var json = JsonDocument.Parse(File.ReadAllText(manifest));
            return json.RootElement.TryGetProperty("tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Object
                   && tokens.TryGetProperty("tokenizer", out var name) && TrainingTokenizer.KnownEncodings.Contains(name.GetString())
                ? name.GetString() : null;
        }
        return null;
    }
}
