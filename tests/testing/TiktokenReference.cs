using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// The node reference tokenizer (npm js-tiktoken, installed repo-locally in tools/tiktoken): encodes a JSON Lines file
/// and returns each document's ids and the time it spent encoding (one thread).
/// </summary>
public static class TiktokenReference
{
    public sealed record Result(IReadOnlyList<int[]> Ids, long Tokens, double Seconds);

    /// <summary>The reference's folder, or null (with the reason) when node or the npm package is missing.</summary>
    public static string? Find(out string why)
    {
        var folder = Path.Combine(RepositoryRoot.Get(), "tools", "tiktoken");
        why = "";
        if (!File.Exists(Path.Combine(folder, "node_modules", "js-tiktoken", "package.json")))
        {
            why = $"js-tiktoken is not installed: run `npm ci --prefix {folder}` (test.sh does)";
            return null;
        }
        return folder;
    }

    public static Result Encode(string encoding, string jsonl, int repeat = 1)
    {
        var folder = Find(out var why) ?? throw new InvalidOperationException(why);
        var output = Path.ChangeExtension(jsonl, $".{encoding}.ids");
        var stdout = NodeScript.Run(folder, "encode.mjs", [encoding, jsonl, output, repeat.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var summary = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var ids = File.ReadLines(output).Select(line => line.Length == 0 ? [] : line.Split(',').Select(int.Parse).ToArray()).ToArray();
        return new Result(ids, summary.RootElement.GetProperty("tokens").GetInt64(), summary.RootElement.GetProperty("seconds").GetDouble());
    }
}
