using System.Diagnostics;
using Curation.Grains.Hosting;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Cluster.Tests;

/// <summary>
/// A silo sent SIGTERM after its membership store (Redis) has gone exits within its shutdown timeout: Orleans' graceful
/// stop would keep trying to write the silo's departure to a store that does not answer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ShutdownTests(ClusterServices services, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("shutdown");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_silo_exits_within_its_shutdown_timeout_on_SIGTERM_when_redis_is_gone()
    {
        var timeout = TimeSpan.FromSeconds(8);
        var (redis, endpoint) = await ClusterServices.StartRedisServerAsync(_temp.Path);
        using (redis)
        {
            await using var cluster = await ProcessCluster.StartAsync(services, ClusteringKind.Redis,
                new StoreSettings("LocalFolder", RootPath: _temp.Combine("data")), silos: 1, membershipConnectionString: endpoint,
                environment: new Dictionary<string, string> { ["Curation__Silo__ShutdownTimeout"] = timeout.ToString() });
            var silo = cluster.Silos[0];

            redis.Kill();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var clock = Stopwatch.StartNew();
            silo.Terminate();
            var exited = silo.WaitForExit(timeout + TimeSpan.FromSeconds(3)); // the process' own exit takes a moment on a busy machine
            output.WriteLine($"SIGTERM with Redis gone: exited {exited} after {clock.Elapsed.TotalSeconds:F1} s (shutdown timeout {timeout.TotalSeconds} s)");
            Assert.True(exited, $"the silo still runs {clock.Elapsed.TotalSeconds:F1} s after SIGTERM:\n{silo.Output()}");
            Assert.True(clock.Elapsed < timeout + TimeSpan.FromSeconds(3));
        }
    }
}
