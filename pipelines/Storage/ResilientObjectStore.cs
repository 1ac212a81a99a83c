using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Azure;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Curation.Pipelines.Storage;

/// <summary>
/// Retries an object store's operations on transient failures (exponential backoff with jitter, bounded attempts)
/// and limits each attempt in time. The store's own answers (not found, already exists, modified) are never retried.
/// </summary>
/// <remarks>
/// A retried create-only write whose first attempt did reach the server, but whose answer was lost, meets its own
/// object and fails with <see cref="ObjectAlreadyExistsException"/>. Stage outputs are deterministic, so callers treat
/// "already exists" as success (<see cref="ObjectStoreExtensions.CreateOnceAsync(IObjectStore, string, Func{Stream, CancellationToken, Task}, CancellationToken)"/> does). Likewise a retried delete
/// may answer false for an object its first attempt removed.
/// Writes are not limited by <see cref="ObjectStoreResilienceOptions.AttemptTimeout"/> as a whole, since their
/// producer may run for minutes; the Azure client applies it to each HTTP request instead.
/// An operation whose retries run out fails with <see cref="ObjectStoreUnavailableException"/>, naming the store, the
/// object and the operation. Every retry is counted on <see cref="RetryCount"/>, on the storage meter and in the
/// caller's <see cref="ObjectStoreMetrics.BeginRetryScope"/> (how a job counts its tasks' retries).
/// </remarks>
public sealed class ResilientObjectStore : IObjectStore
{
    private readonly ResiliencePipeline _attempts;
    private readonly ResiliencePipeline _writeAttempts;
    private readonly ILogger? _logger;
    private readonly int _attemptLimit;
    private long _retryCount;

    public ResilientObjectStore(IObjectStore inner, ObjectStoreResilienceOptions? options = null, ILogger? logger = null)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
        options = new ObjectStoreResilienceOptionsValidator().ThrowIfInvalid(options ?? new ObjectStoreResilienceOptions());
        _logger = logger;
        _attemptLimit = options.MaxRetryAttempts + 1;
        _attempts = CreatePipeline(options, withAttemptTimeout: true, OnRetry);
        _writeAttempts = CreatePipeline(options, withAttemptTimeout: false, OnRetry);
    }

    public IObjectStore Inner { get; }

    /// <summary>Retries made so far by this store, over all operations.</summary>
    public long RetryCount => Interlocked.Read(ref _retryCount);

    public string Location => Inner.Location;

    public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
        => RunAsync(_attempts, "get-info", key, ct => Inner.GetInfoAsync(key, ct), cancellationToken);

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
        => RunAsync(_attempts, "open-read", key, ct => Inner.OpenReadAsync(key, ct), cancellationToken);

    public Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
        CancellationToken cancellationToken = default)
        => RunAsync(_writeAttempts, "write", key, ct => Inner.WriteAsync(key, produce, condition, ct), cancellationToken);

    /// <summary>
    /// The inner store's <see cref="IObjectStore.WriteFileAsync"/>, retried: an attempt after one that moved the file away copies
    /// it (<see cref="ILocalFile.TryMoveTo"/> answers false once the file has moved).
    /// </summary>
    public Task<ObjectInfo> WriteFileAsync(string key, ILocalFile file, WriteCondition condition, CancellationToken cancellationToken = default)
        => RunAsync(_writeAttempts, "write", key, ct => Inner.WriteFileAsync(key, file, condition, ct), cancellationToken);

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        => RunAsync(_attempts, "delete", key, ct => Inner.DeleteAsync(key, ct), cancellationToken);

    /// <summary>
    /// Each step of the listing is an attempt; after a transient failure the listing restarts and skips the keys
    /// already returned (listings come in ordinal key order), so callers see every key once.
    /// </summary>
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectKeys.ValidatePrefix(prefix);
        await using var cursor = new ListCursor(Inner, prefix, cancellationToken);
        while (await RunAsync(_attempts, "list", prefix, cursor.NextAsync, cancellationToken).ConfigureAwait(false) is { } item)
            yield return item;
    }

    public override string ToString() => $"{Location} (resilient)";

    /// <summary>Whether a failure may go away by trying again: network, throttling, server errors, timeouts.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        ObjectStoreException => false, // the store's definite answers
        TimeoutRejectedException => true,
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or 500 or 502 or 503 or 504,
        HttpRequestException { StatusCode: { } status } => IsTransientStatus(status),
        HttpRequestException or SocketException => true,
        InvalidDataException or FileNotFoundException or DirectoryNotFoundException or PathTooLongException => false,
        IOException => true,
        OperationCanceledException { InnerException: TimeoutException } => true, // HttpClient.Timeout
        _ => false,
    };

    /// <summary>
    /// <see cref="IsTransient(Exception)"/>, plus cancellations the caller did not ask for: Azure.Core's per-request
    /// network timeout surfaces as a <see cref="TaskCanceledException"/> wrapping the transport's own cancellation,
    /// with no <see cref="TimeoutException"/> inside, while <paramref name="callerToken"/> is still live.
    /// </summary>
    public static bool IsTransient(Exception exception, CancellationToken callerToken)
        => IsTransient(exception) || (exception is OperationCanceledException && !callerToken.IsCancellationRequested);

    /// <summary>A transient failure in one line: the HTTP status and error code, the timeout, or the first line of the message.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 } failed => $"no response: {FirstLine(failed.InnerException?.Message ?? failed.Message)}",
        RequestFailedException failed => $"HTTP {failed.Status}{(string.IsNullOrEmpty(failed.ErrorCode) ? "" : $" {failed.ErrorCode}")}",
        TimeoutRejectedException timeout => $"attempt timed out after {timeout.Timeout.TotalSeconds:0.###} s",
        OperationCanceledException => $"timed out: {FirstLine(exception.Message)}",
        _ => $"{exception.GetType().Name}: {FirstLine(exception.Message)}",
    };

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }

    private static bool IsTransientStatus(HttpStatusCode status)
        => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError
            and not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported;

    /// <summary>The retry (+ optional per-attempt timeout) pipeline used by this decorator and by streaming readers.</summary>
    internal static ResiliencePipeline CreatePipeline(ObjectStoreResilienceOptions options, bool withAttemptTimeout,
        Action<OnRetryArguments<object>>? onRetry)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                // The context's token here is the caller's (the attempt timeout inside has restored it).
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                OnRetry = args =>
                {
                    onRetry?.Invoke(args);
                    return default;
                },
            });
        }
        // Inside the retry, so a timed-out attempt is retried like any other transient failure.
        if (withAttemptTimeout) builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    private void OnRetry(OnRetryArguments<object> args)
    {
        Interlocked.Increment(ref _retryCount);
        ObjectStoreMetrics.RecordRetry(Location, args.Context.OperationKey);
        _logger?.LogWarning(args.Outcome.Exception, "Retrying {Operation} on {Store} in {Delay} (retry {Retry}) after a transient failure",
            args.Context.OperationKey, Location, args.RetryDelay, args.AttemptNumber + 1);
    }

    private async Task<T> RunAsync<T>(ResiliencePipeline pipeline, string operation, string key, Func<CancellationToken, Task<T>> action,
        CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        try
        {
            return await pipeline.ExecuteAsync(
                static async (ctx, run) => await run(ctx.CancellationToken).ConfigureAwait(false), context, action).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsTransient(e, cancellationToken))
        {
            // Still transient after the last retry: fail with an error that names what could not be done.
            throw new ObjectStoreUnavailableException(Location, key, operation, _attemptLimit, e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>A restartable position in a listing: the inner enumeration plus the last key handed out.</summary>
    private sealed class ListCursor(IObjectStore inner, string prefix, CancellationToken listingToken) : IAsyncDisposable
    {
        private IAsyncEnumerator<ObjectInfo>? _enumerator;
        private CancellationTokenSource? _enumerationCancellation;
        private string? _lastKey;

        public async Task<ObjectInfo?> NextAsync(CancellationToken attemptToken)
        {
            if (_enumerator is null)
            {
                // The enumeration outlives one attempt, so it gets its own token that an attempt's timeout can cancel.
                _enumerationCancellation = CancellationTokenSource.CreateLinkedTokenSource(listingToken);
                _enumerator = inner.ListAsync(prefix, _enumerationCancellation.Token).GetAsyncEnumerator(_enumerationCancellation.Token);
            }
            var cancelOnTimeout = attemptToken.Register(static cts => ((CancellationTokenSource)cts!).Cancel(), _enumerationCancellation);
            try
            {
                while (await _enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    var item = _enumerator.Current;
                    if (_lastKey is not null && string.CompareOrdinal(item.Key, _lastKey) <= 0) continue; // seen before a restart
                    _lastKey = item.Key;
                    return item;
                }
                return null;
            }
            catch
            {
                await cancelOnTimeout.DisposeAsync().ConfigureAwait(false);
                await DisposeAsync().ConfigureAwait(false); // the next attempt starts a fresh enumeration
                throw;
            }
            finally
            {
                await cancelOnTimeout.DisposeAsync().ConfigureAwait(false);
            }
        }

        public async ValueTask DisposeAsync()
        {
            var enumerator = _enumerator;
            var cancellation = _enumerationCancellation;
            _enumerator = null;
            _enumerationCancellation = null;
            try
            {
                if (enumerator is not null) await enumerator.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A broken enumeration may fail again while closing; the error that matters is already on its way.
            }
            cancellation?.Dispose();
        }
    }
}
