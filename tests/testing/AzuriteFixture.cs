using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Curation.Pipelines.Storage;
using Xunit;

namespace Curation.Testing;

/// <summary>
/// An Azurite blob service for tests: the one named by <c>CURATION_TEST_AZURITE_BLOB</c> (e.g.
/// <c>http://127.0.0.1:10000/devstoreaccount1</c>), else one started here from the repo-local install
/// (<c>tools/azurite</c>) on a free loopback port and stopped on dispose. Neither available is a failure, never a skip.
/// </summary>
public sealed partial class AzuriteFixture : IAsyncLifetime
{
    public const string EndpointVariable = "CURATION_TEST_AZURITE_BLOB";
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development account key (public, not a secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly StringBuilder _output = new();
    private Process? _process;
    private TempDirectory? _location;

    /// <summary>The blob endpoint including the account, e.g. http://127.0.0.1:41234/devstoreaccount1.</summary>
    public string BlobEndpoint { get; private set; } = "";

    public string ConnectionString => ConnectionStringFor(BlobEndpoint);

    /// <summary>The connection string of the emulator's account at another blob endpoint (a proxy in front of it).</summary>
    public static string ConnectionStringFor(string blobEndpoint) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint={blobEndpoint.TrimEnd('/')};";

    public static string NotAvailableMessage =>
        $"Azurite is not available: run ./test.sh (it installs Azurite with `npm ci --prefix tools/azurite`), "
        + $"or set {EndpointVariable} to a running blob endpoint such as http://127.0.0.1:10000/{AccountName}.";

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(EndpointVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            BlobEndpoint = external.Trim().TrimEnd('/');
            await WaitUntilAnsweringAsync(new Uri(BlobEndpoint), $"{EndpointVariable}={BlobEndpoint}").ConfigureAwait(false);
            return;
        }
        await StartAzuriteAsync().ConfigureAwait(false);
    }

    public Task DisposeAsync()
    {
        StopAzurite();
        return Task.CompletedTask;
    }

    /// <summary>A container name no other test uses (3–63 lowercase letters, digits, '-').</summary>
    public static string NewContainerName(string hint = "test")
    {
        var cleaned = NotContainerChars().Replace(hint.ToLowerInvariant(), "-").Trim('-');
        while (cleaned.Contains("--", StringComparison.Ordinal)) cleaned = cleaned.Replace("--", "-", StringComparison.Ordinal);
        if (cleaned.Length > 30) cleaned = cleaned[..30].TrimEnd('-');
        return $"{(cleaned.Length == 0 ? "test" : cleaned)}-{Guid.NewGuid():N}";
    }

    public BlobServiceClient CreateServiceClient() => new(ConnectionString, AzureBlobStore.CreateClientOptions());

    /// <summary>A new, empty container for one test.</summary>
    public async Task<BlobContainerClient> CreateContainerAsync(string hint = "test")
    {
        var container = CreateServiceClient().GetBlobContainerClient(NewContainerName(hint));
        await container.CreateAsync().ConfigureAwait(false);
        return container;
    }

    /// <summary>A resilient Azure store over a new container name (created on first write).</summary>
    public ResilientObjectStore CreateStore(string hint = "test", ObjectStoreResilienceOptions? resilience = null)
        => AzureBlobStore.Create(ConnectionString, NewContainerName(hint), resilience);

    private async Task StartAzuriteAsync()
    {
        var root = RepositoryRoot.TryGet();
        var executable = root is null ? null : Path.Combine(root, "tools", "azurite", "node_modules", ".bin", "azurite-blob");
        if (executable is null || !File.Exists(executable)) throw new InvalidOperationException(NotAvailableMessage);

        _location = new TempDirectory("azurite");
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _location.Path,
        };
        // Port 0: the OS picks a free port and Azurite prints the one it got, so parallel test runs never collide.
        foreach (var argument in new[] { "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", _location.Path,
                     "--loose", "--skipApiVersionCheck", "--silent" })
            start.ArgumentList.Add(argument);

        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnOutput(e.Data, listening);
        process.ErrorDataReceived += (_, e) => OnOutput(e.Data, listening);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException(
            $"Azurite exited (code {SafeExitCode(process)}) before listening. Output:\n{Output()}\n{NotAvailableMessage}"));
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Could not start {executable} (is Node.js on PATH?). {NotAvailableMessage}", ex);
        }
        _process = process;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        Uri url;
        try
        {
            url = await listening.Task.WaitAsync(StartTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            StopAzurite();
            throw new InvalidOperationException($"Azurite did not start listening within {StartTimeout.TotalSeconds:0} s. Output:\n{Output()}");
        }
        BlobEndpoint = $"{url.GetLeftPart(UriPartial.Authority)}/{AccountName}";
        await WaitUntilAnsweringAsync(url, "Azurite started by the tests").ConfigureAwait(false);
    }

    private void OnOutput(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        var match = ListeningLine().Match(line);
        if (match.Success) listening.TrySetResult(new Uri(match.Groups["url"].Value));
    }

    private string Output()
    {
        lock (_output) return _output.ToString();
    }

    private static async Task WaitUntilAnsweringAsync(Uri endpoint, string what)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(endpoint.Host, endpoint.Port).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline)
                    throw new InvalidOperationException($"{what}: nothing answers on {endpoint.Host}:{endpoint.Port} after {StartTimeout.TotalSeconds:0} s. {NotAvailableMessage}", ex);
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => StopAzurite();

    private void StopAzurite()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException) { } // already gone
            process.Dispose();
        }
        Interlocked.Exchange(ref _location, null)?.Dispose();
    }

    private static string SafeExitCode(Process process)
    {
        try { return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (InvalidOperationException) { return "?"; }
    }

    [GeneratedRegex(@"successfully listens on (?<url>https?://\S+)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex("[^a-z0-9-]+")]
    private static partial Regex NotContainerChars();
}
