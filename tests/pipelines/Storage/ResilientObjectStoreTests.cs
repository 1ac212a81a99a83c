using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Azure;
using Curation.Pipelines.Storage;
using Polly.Timeout;

namespace Curation.Pipelines.Tests.Storage;

/// <summary>The retry policy, against a store double that fails on cue.</summary>
public sealed class ResilientObjectStoreTests
{
    private static readonly ObjectStoreResilienceOptions Fast = new()
    {
        MaxRetryAttempts = 3,
        BaseDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
        AttemptTimeout = TimeSpan.FromSeconds(5),
    };

    public static TheoryData<string> TransientKinds => ["io", "http", "503", "500", "429", "408", "no-response", "polly-timeout", "network-timeout", "azure-network-timeout"];

    public static TheoryData<string> DefiniteKinds => ["not-found", "already-exists", "modified", "404", "403", "409", "412", "argument", "invalid-data"];

    [Theory]
    [MemberData(nameof(TransientKinds))]
    public async Task Transient_failures_are_retried_and_counted(string kind)
    {
        var inner = new FaultyStore((_, call) => call <= 2 ? Failure(kind) : null);
        inner.Put("k", [1, 2, 3]);
        var store = new ResilientObjectStore(inner, Fast);

        var info = await store.GetInfoAsync("k");

        Assert.Equal(3, info!.Size);
        Assert.Equal(3, inner.Calls("get-info"));
        Assert.Equal(2, store.RetryCount);
    }

    [Theory]
    [MemberData(nameof(DefiniteKinds))]
    public async Task Definite_failures_are_not_retried(string kind)
    {
        var failure = Failure(kind);
        var store = new ResilientObjectStore(new FaultyStore((_, _) => failure), Fast);

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => store.GetInfoAsync("k"));

        Assert.Same(failure, thrown);
        Assert.Equal(1, ((FaultyStore)store.Inner).Calls("get-info"));
        Assert.Equal(0, store.RetryCount);
    }

    [Fact]
    public async Task Exhausted_retries_fail_naming_the_object_and_operation_with_the_last_error_inside()
    {
        var inner = new FaultyStore((_, call) => new IOException($"boom {call}"));
        var store = new ResilientObjectStore(inner, Fast);

        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(() => store.OpenReadAsync("shards/k"));

        Assert.Equal("boom 4", error.InnerException!.Message);
        Assert.Equal($"{inner.Location}/shards/k: open-read failed after 4 attempts with transient errors (last: IOException: boom 4)", error.Message);
        Assert.Equal(("shards/k", "open-read", 4), (error.Key, error.Operation, error.Attempts));
        Assert.False(ResilientObjectStore.IsTransient(error)); // outer layers do not retry it again
        Assert.Equal(4, inner.Calls("open-read"));
        Assert.Equal(3, store.RetryCount);
    }

    [Fact]
    public async Task Exhausted_retries_of_an_http_failure_name_its_status()
    {
        var store = new ResilientObjectStore(new FaultyStore((_, _) => new RequestFailedException(503, "Service request failed.\nStatus: 503", "ServerBusy", null)), Fast);

        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(() => store.WriteBytesAsync("out/x", new byte[] { 1 }, WriteCondition.CreateOnly));

        Assert.EndsWith("out/x: write failed after 4 attempts with transient errors (last: HTTP 503 ServerBusy)", error.Message);
    }

    [Fact]
    public async Task Retries_are_counted_in_the_enclosing_retry_scope_innermost_only()
    {
        var inner = new FaultyStore((op, call) => op == "get-info" && call is 1 or 2 or 4 ? new IOException("flaky") : null);
        inner.Put("k", [1]);
        var store = new ResilientObjectStore(inner, Fast);

        using var outer = ObjectStoreMetrics.BeginRetryScope();
        await store.GetInfoAsync("k"); // calls 1, 2 fail: 2 retries in the outer scope
        long innerCount;
        using (var nested = ObjectStoreMetrics.BeginRetryScope())
        {
            await Task.WhenAll(Task.Run(() => store.GetInfoAsync("k")), Task.Run(() => store.OpenReadAsync("k"))); // get-info call 4 fails once
            innerCount = nested.Count;
        }
        await store.GetInfoAsync("k");

        Assert.Equal(1, innerCount);
        Assert.Equal(2, outer.Count);
        Assert.Equal(3, store.RetryCount);
    }

    [Fact]
    public async Task A_hung_attempt_times_out_and_is_retried()
    {
        var inner = new FaultyStore((_, call) => null) { HangOnCall = 1 };
        inner.Put("k", [1]);
        var store = new ResilientObjectStore(inner, new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = 2, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, AttemptTimeout = TimeSpan.FromMilliseconds(50),
        });

        Assert.True(await store.DeleteAsync("k"));
        Assert.Equal(2, inner.Calls("delete"));
        Assert.Equal(1, store.RetryCount);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_retried()
    {
        var inner = new FaultyStore((_, _) => null) { HangOnCall = 1 };
        var store = new ResilientObjectStore(inner, Fast);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetInfoAsync("k", cancel.Token));
        Assert.Equal(1, inner.Calls("get-info"));
        Assert.Equal(0, store.RetryCount);
    }

    [Fact]
    public async Task A_retried_write_runs_the_producer_again_and_commits_once()
    {
        var inner = new FaultyStore((op, call) => op == "write" && call == 1 ? new IOException("connection reset") : null);
        var store = new ResilientObjectStore(inner, Fast);
        var produced = 0;

        await store.WriteAsync("k", async (s, ct) =>
        {
            Interlocked.Increment(ref produced);
            await s.WriteAsync(new byte[] { 7, 8 }, ct);
        }, WriteCondition.CreateOnly);

        Assert.Equal(2, produced);
        Assert.Equal([7, 8], await store.ReadBytesAsync("k"));
        Assert.Equal(1, store.RetryCount);
    }

    [Fact]
    public async Task A_slow_producer_is_not_cut_off_by_the_attempt_timeout()
    {
        var inner = new FaultyStore((_, _) => null);
        var store = new ResilientObjectStore(inner, new ObjectStoreResilienceOptions { AttemptTimeout = TimeSpan.FromMilliseconds(20) });

        await store.WriteAsync("k", async (s, ct) =>
        {
            await Task.Delay(150, ct);
            await s.WriteAsync(new byte[] { 1 }, ct);
        }, WriteCondition.CreateOnly);

        Assert.Equal(1, inner.Calls("write"));
        Assert.Equal(0, store.RetryCount);
    }

    [Fact]
    public async Task A_listing_broken_midway_resumes_without_repeating_keys()
    {
        var inner = new FaultyStore((_, _) => null) { FailListingAtItem = 3 };
        foreach (var key in new[] { "p/a", "p/b", "p/c", "p/d", "p/e", "q/z" }) inner.Put(key, [1]);
        var store = new ResilientObjectStore(inner, Fast);

        var keys = new List<string>();
        await foreach (var info in store.ListAsync("p/")) keys.Add(info.Key);

        Assert.Equal(["p/a", "p/b", "p/c", "p/d", "p/e"], keys);
        Assert.Equal(2, inner.Calls("list"));
        Assert.Equal(1, store.RetryCount);
    }

    [Fact]
    public async Task A_hung_listing_times_out_and_restarts()
    {
        var inner = new FaultyStore((_, _) => null) { HangOnCall = 1 };
        inner.Put("p/a", [1]);
        var store = new ResilientObjectStore(inner, new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = 2, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, AttemptTimeout = TimeSpan.FromMilliseconds(50),
        });

        var keys = new List<string>();
        await foreach (var info in store.ListAsync("p/")) keys.Add(info.Key);

        Assert.Equal(["p/a"], keys);
        Assert.Equal(2, inner.Calls("list"));
        Assert.Equal(1, store.RetryCount);
    }

    [Fact]
    public async Task No_retries_when_turned_off()
    {
        var inner = new FaultyStore((_, _) => new IOException("down"));
        var store = new ResilientObjectStore(inner, new ObjectStoreResilienceOptions { MaxRetryAttempts = 0 });

        var error = await Assert.ThrowsAsync<ObjectStoreUnavailableException>(() => store.GetInfoAsync("k"));
        Assert.Contains("get-info failed after 1 attempt with", error.Message);
        Assert.Equal(1, inner.Calls("get-info"));
    }

    [Fact]
    public async Task Retries_are_published_on_the_storage_meter()
    {
        var inner = new FaultyStore((_, call) => call <= 2 ? new IOException("flaky") : null);
        var store = new ResilientObjectStore(inner, Fast);
        long measured = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ObjectStoreMetrics.MeterName && instrument.Name == ObjectStoreMetrics.RetriesCounterName)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            // Other tests retry in parallel: count only this store's retries.
            foreach (var tag in tags)
                if (tag is { Key: "store", Value: string location } && location == inner.Location)
                    Interlocked.Add(ref measured, value);
        });
        listener.Start();

        await store.GetInfoAsync("k");

        Assert.Equal(2, Interlocked.Read(ref measured));
    }

    [Fact]
    public void Invalid_policy_options_are_rejected_naming_the_field()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new ResilientObjectStore(new FaultyStore((_, _) => null), new ObjectStoreResilienceOptions { MaxRetryAttempts = -1 }));
        Assert.Contains("MaxRetryAttempts", error.Message);
    }

    private static Exception Failure(string kind) => kind switch
    {
        "io" => new IOException("connection reset"),
        "http" => new HttpRequestException("no route to host"),
        "503" or "500" or "429" or "408" or "404" or "403" or "409" or "412" => new RequestFailedException(int.Parse(kind), $"status {kind}"),
        "no-response" => new RequestFailedException(0, "no response"),
        "polly-timeout" => new TimeoutRejectedException("attempt timed out"),
        "network-timeout" => new TaskCanceledException("network timeout", new TimeoutException()),
        // Azure.Core's ResponseBodyPolicy: the transport's cancellation wrapped, no TimeoutException; the caller's token is live.
        "azure-network-timeout" => new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:00:02.",
            new TaskCanceledException("The operation was canceled.")),
        "not-found" => new ObjectNotFoundException("fake://", "k"),
        "already-exists" => new ObjectAlreadyExistsException("fake://", "k"),
        "modified" => new ObjectModifiedException("fake://", "k", "e1"),
        "argument" => new ArgumentException("bad key"),
        "invalid-data" => new InvalidDataException("corrupt"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// An in-memory store that consults <c>fault(operation, callNumber)</c> before each call (1-based, per operation)
    /// and throws what it returns.
    /// </summary>
    private sealed class FaultyStore(Func<string, int, Exception?> fault) : IObjectStore
    {
        private readonly SortedDictionary<string, byte[]> _objects = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _calls = new();
        private int _etag;

        /// <summary>This call number (of any operation) waits until its token is cancelled.</summary>
        public int HangOnCall { get; init; }

        /// <summary>The first listing throws a transient error before yielding this 1-based item.</summary>
        public int FailListingAtItem { get; init; }

        public string Location { get; } = $"fake://{Guid.NewGuid():N}";

        public int Calls(string operation)
        {
            lock (_calls) return _calls.GetValueOrDefault(operation);
        }

        public void Put(string key, byte[] bytes)
        {
            lock (_objects) _objects[key] = bytes;
        }

        public async Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
        {
            await EnterAsync("get-info", cancellationToken);
            lock (_objects) return _objects.TryGetValue(key, out var bytes) ? Info(key, bytes) : null;
        }

        public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var call = await EnterAsync("list", cancellationToken);
            List<ObjectInfo> items;
            lock (_objects) items = _objects.Where(o => o.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(o => Info(o.Key, o.Value)).ToList();
            for (var i = 0; i < items.Count; i++)
            {
                if (call == 1 && i + 1 == FailListingAtItem) throw new IOException("listing connection dropped");
                yield return items[i];
            }
        }

        public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        {
            await EnterAsync("open-read", cancellationToken);
            lock (_objects)
                return _objects.TryGetValue(key, out var bytes) ? new MemoryStream(bytes, writable: false) : throw new ObjectNotFoundException(Location, key);
        }

        public async Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
            CancellationToken cancellationToken = default)
        {
            using var buffer = new MemoryStream();
            await produce(buffer, cancellationToken);
            await EnterAsync("write", cancellationToken); // fails after producing, like a lost upload
            lock (_objects)
            {
                if (condition.Kind == WriteConditionKind.CreateOnly && _objects.ContainsKey(key)) throw new ObjectAlreadyExistsException(Location, key);
                _objects[key] = buffer.ToArray();
                return Info(key, _objects[key]);
            }
        }

        public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        {
            await EnterAsync("delete", cancellationToken);
            lock (_objects) return _objects.Remove(key);
        }

        private async Task<int> EnterAsync(string operation, CancellationToken cancellationToken)
        {
            int call;
            lock (_calls) call = _calls[operation] = _calls.GetValueOrDefault(operation) + 1;
            if (call == HangOnCall) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (fault(operation, call) is { } failure) throw failure;
            return call;
        }

        private ObjectInfo Info(string key, byte[] bytes) => new(key, bytes.Length, $"e{Interlocked.Increment(ref _etag)}", DateTimeOffset.UnixEpoch);
    }
}
