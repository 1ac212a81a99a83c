using Curation.Testing;

namespace Curation.Cluster.Tests;

/// <summary>
/// One <see cref="HoldingProxy"/> in front of Azurite's blob service per silo, so a test knows which silo's requests it
/// holds: every silo reaches the same container, each through its own proxy.
/// </summary>
public sealed class SiloStoreProxies(Uri blobEndpoint, string containerName) : IAsyncDisposable
{
    private readonly List<HoldingProxy> _proxies = [];
    private HoldRule? _hold;

    /// <summary>The store settings of silo <paramref name="silo"/>: the shared container through that silo's proxy.</summary>
    public StoreSettings StoreOf(int silo)
    {
        lock (_proxies)
        {
            while (_proxies.Count <= silo)
            {
                var proxy = new HoldingProxy(blobEndpoint);
                if (_hold is { } hold) proxy.Hold(hold);
                _proxies.Add(proxy);
            }
            return new StoreSettings("AzureBlob", ConnectionString: AzuriteFixture.ConnectionStringFor(_proxies[silo].Endpoint.ToString()),
                ContainerName: containerName);
        }
    }

    /// <summary>The settings of a client that goes straight to Azurite (the test reading the output).</summary>
    public StoreSettings Direct => new("AzureBlob", ConnectionString: AzuriteFixture.ConnectionStringFor(blobEndpoint.ToString()), ContainerName: containerName);

    public HoldingProxy this[int silo]
    {
        get { lock (_proxies) return _proxies[silo]; }
    }

    public int Held
    {
        get { lock (_proxies) return _proxies.Sum(p => p.Held); }
    }

    public int Dropped
    {
        get { lock (_proxies) return _proxies.Sum(p => p.Dropped); }
    }

    /// <summary>
    /// Holds the commit markers of the tasks of one phase, after the first <paramref name="letThrough"/> of the whole
    /// cluster: the job then stays inside that phase, with its other tasks in flight wherever they were placed.
    /// </summary>
    public void HoldCommits(string stage, string phase, int letThrough)
    {
        var marker = $"/{stage}/_tasks/{phase}-";
        var rule = new HoldRule(line => line.StartsWith("PUT ", StringComparison.Ordinal) && line.Contains(marker, StringComparison.Ordinal), letThrough);
        lock (_proxies)
        {
            _hold = rule;
            foreach (var proxy in _proxies) proxy.Hold(rule);
        }
    }

    public void Release()
    {
        lock (_proxies)
        {
            _hold = null;
            foreach (var proxy in _proxies) proxy.Release();
        }
    }

    public async Task WaitUntilAsync(Func<SiloStoreProxies, bool> condition, TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition(this))
        {
            try { await Task.Delay(50, deadline.Token); }
            catch (OperationCanceledException)
            {
                string held;
                lock (_proxies) held = string.Join(", ", _proxies.Select((p, i) => $"silo-{i}: {p.Held}"));
                throw new TimeoutException($"{what} not reached after {timeout}; requests held: {held}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<HoldingProxy> proxies;
        lock (_proxies) proxies = [.. _proxies];
        foreach (var proxy in proxies) await proxy.DisposeAsync();
    }
}
