using System.Text.Json;

namespace Curation.Testing;

/// <summary>
/// DuckDB through its node API (npm @duckdb/node-api, installed repo-locally in tools/duckdb): reads our Parquet as
/// third-party tools do. Each SQL statement's rows come back as JSON.
/// </summary>
public static class DuckDbReference
{
    public static string Folder()
    {
        var folder = Path.Combine(RepositoryRoot.Get(), "tools", "duckdb");
        if (!File.Exists(Path.Combine(folder, "node_modules", "@duckdb", "node-api", "package.json")))
            throw new InvalidOperationException($"@duckdb/node-api is not installed: run `npm ci --prefix {folder}` (test.sh does)");
        return folder;
    }

    /// <summary>Runs the statements in one in-memory database; one JSON array of row objects per statement.</summary>
    public static IReadOnlyList<JsonElement> Query(params string[] sql)
    {
        var stdout = NodeScript.Run(Folder(), "query.mjs", sql);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();
    }
}
