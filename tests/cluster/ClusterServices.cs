using Curation.Testing;

namespace Curation.Cluster.Tests;

/// <summary>
/// What real clusters need, started once for all tests: Azurite blob (data store, grain state) and table (membership,
/// reminders) services, and Redis. Each comes from its environment variable when set (test.sh sets them), else is
/// started here: Azurite from tools/azurite, Redis from <c>redis-server</c> on PATH. Missing is a failure, never a skip.
/// </summary>
public sealed class ClusterServices : IAsyncLifetime
{
    public const string TableVariable = "CURATION_TEST_AZURITE_TABLE";
    public const string RedisVariable = "CURATION_TEST_REDIS";

    private readonly AzuriteFixture _blob = new();
    private readonly List<ServiceProcess> _started = [];
    private TempDirectory? _folder;

    public string TableEndpoint { get; private set; } = "";

    public string RedisEndpoint { get; private set; } = "";

    /// <summary>Azurite's blob endpoint, account included.</summary>
    public Uri BlobEndpoint => new(_blob.BlobEndpoint);

    /// <summary>One connection string for both Azurite services (membership tables and blobs).</summary>
    public string StorageConnectionString => $"{_blob.ConnectionString}TableEndpoint={TableEndpoint};";

    /// <summary>curate.dll of the same configuration as this test assembly (…/bin/Release/net10.0/linux-x64/).</summary>
    public string SiloExecutable => SiloExecutablePath;

    /// <summary>curate.dll of the same configuration as this test assembly, for tests that start a silo without these services.</summary>
    public static string SiloExecutablePath { get; } = Path.Combine(RepositoryRoot.Get(), "silo", "bin",
        AppContext.BaseDirectory[(AppContext.BaseDirectory.LastIndexOf($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal) + 5)..],
        "curate.dll");

    public async Task InitializeAsync()
    {
        if (!File.Exists(SiloExecutable)) throw new InvalidOperationException($"{SiloExecutable} is missing: build the solution in Release first.");
        await _blob.InitializeAsync();
        _folder = new TempDirectory("cluster-services");
        TableEndpoint = Environment.GetEnvironmentVariable(TableVariable)?.TrimEnd('/') ?? await StartAzuriteTableAsync();
        RedisEndpoint = Environment.GetEnvironmentVariable(RedisVariable) ?? await StartRedisAsync();
    }

    private async Task<string> StartAzuriteTableAsync()
    {
        var executable = Path.Combine(RepositoryRoot.Get(), "tools", "azurite", "node_modules", ".bin", "azurite-table");
        if (!File.Exists(executable)) throw new InvalidOperationException(AzuriteFixture.NotAvailableMessage);
        var port = ServiceProcess.FreePort();
        var process = ServiceProcess.Start("azurite-table", executable,
            ["--tableHost", "127.0.0.1", "--tablePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--location", _folder!.Combine("table"),
             "--loose", "--skipApiVersionCheck", "--silent"]);
        _started.Add(process);
        await process.WaitForPortAsync(port, TimeSpan.FromSeconds(30));
        return $"http://127.0.0.1:{port}/{AzuriteFixture.AccountName}";
    }

    private async Task<string> StartRedisAsync()
    {
        var (process, endpoint) = await StartRedisServerAsync(_folder!.Path);
        _started.Add(process);
        return endpoint;
    }

    /// <summary>A Redis server of its own on a free loopback port (the caller disposes it), and its endpoint.</summary>
    public static async Task<(ServiceProcess Process, string Endpoint)> StartRedisServerAsync(string folder)
    {
        var executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"redis-server is not installed: run ./test.sh (it installs Debian's redis-server), or set {RedisVariable}=host:port.");
        var port = ServiceProcess.FreePort();
        var process = ServiceProcess.Start("redis", executable,
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]);
        await process.WaitForPortAsync(port, TimeSpan.FromSeconds(30));
        return (process, $"127.0.0.1:{port}");
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _started) process.Dispose();
        await _blob.DisposeAsync();
        _folder?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterServices>
{
    public const string Name = "real clusters";
}
