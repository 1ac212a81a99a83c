using System.Runtime.CompilerServices;
using Azure;
using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Polly;

namespace Curation.Pipelines.Storage;

/// <summary>
/// Objects as blobs of one Azure Blob Storage container (or Azurite). Create-only writes use If-None-Match: *,
/// If-Match writes the blob's ETag, so commits stay race-free across silos. The container is created on first write.
/// </summary>
/// <remarks>
/// Construct the <see cref="BlobContainerClient"/> with <see cref="CreateClientOptions"/>: the SDK's own retries are off
/// because <see cref="ResilientObjectStore"/> retries whole operations (retrying at both levels multiplies attempts).
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A process-lifetime store: its container gate lives as long as the process.")]
public sealed class AzureBlobStore : IObjectStore
{
    /// <summary>Produced bytes stay in memory up to this size, then spill to a temp file before the upload.</summary>
    private const int WriteMemoryThreshold = 8 * 1024 * 1024;

    private static readonly StorageTransferOptions UploadTransfer = new()
    {
        InitialTransferSize = 32 * 1024 * 1024, // one request up to here, blocks beyond
        MaximumTransferSize = 8 * 1024 * 1024,
        MaximumConcurrency = 4,
    };

    private readonly BlobContainerClient _container;
    private readonly int _readBufferSize;
    private readonly ResiliencePipeline _chunkReads;
    private readonly int _chunkReadAttempts;
    private readonly SemaphoreSlim _containerGate = new(1, 1);
    private volatile bool _containerReady;

    /// <param name="container">The container; see <see cref="CreateClientOptions"/> for how to build its client.</param>
    /// <param name="readResilience">
    /// Retry policy for the ranged requests a large blob's read stream makes after it was opened
    /// (those happen outside any <see cref="ResilientObjectStore"/> call).
    /// </param>
    /// <param name="readBufferSize">Bytes per ranged read; blobs up to this size are read in one request.</param>
    public AzureBlobStore(BlobContainerClient container, ObjectStoreResilienceOptions? readResilience = null,
        int readBufferSize = 4 * 1024 * 1024)
    {
        _container = container ?? throw new ArgumentNullException(nameof(container));
        ArgumentOutOfRangeException.ThrowIfLessThan(readBufferSize, 1);
        _readBufferSize = readBufferSize;
        Location = $"az://{container.Name}";
        var resilience = new ObjectStoreResilienceOptionsValidator().ThrowIfInvalid(readResilience ?? new ObjectStoreResilienceOptions());
        _chunkReadAttempts = resilience.MaxRetryAttempts + 1;
        _chunkReads = ResilientObjectStore.CreatePipeline(resilience, withAttemptTimeout: true,
            _ => ObjectStoreMetrics.RecordRetry(Location, "read-range"));
    }

    /// <summary>A store over a connection string (e.g. Azurite's), wrapped in the standard retry policy.</summary>
    public static ResilientObjectStore Create(string connectionString, string containerName, ObjectStoreResilienceOptions? resilience = null)
        => Create(new AzureBlobStoreOptions { ConnectionString = connectionString, ContainerName = containerName }, resilience);

    /// <summary>A store from options (validated), wrapped in the standard retry policy.</summary>
    public static ResilientObjectStore Create(AzureBlobStoreOptions options, ObjectStoreResilienceOptions? resilience = null)
    {
        resilience = new ObjectStoreResilienceOptionsValidator().ThrowIfInvalid(resilience ?? new ObjectStoreResilienceOptions());
        var store = new AzureBlobStore(CreateContainerClient(options, resilience), resilience, options.ReadBufferSize);
        return new ResilientObjectStore(store, resilience);
    }

    /// <summary>
    /// One store per container name, all sharing one service client (for az:// inputs and outputs of a job), each
    /// wrapped in the standard retry policy.
    /// </summary>
    public static Func<string, ResilientObjectStore> CreateContainerStoreFactory(AzureBlobStoreOptions options,
        ObjectStoreResilienceOptions? resilience = null)
    {
        resilience = new ObjectStoreResilienceOptionsValidator().ThrowIfInvalid(resilience ?? new ObjectStoreResilienceOptions());
        var service = CreateServiceClient(options, resilience);
        return containerName =>
        {
            if (AzureBlobStoreOptionsValidator.ContainerNameProblem(containerName) is { } problem)
                throw new ArgumentException($"Invalid Azure container name '{containerName}': it {problem}.", nameof(containerName));
            return new ResilientObjectStore(new AzureBlobStore(service.GetBlobContainerClient(containerName), resilience, options.ReadBufferSize), resilience);
        };
    }

    /// <summary>
    /// The account's service client, configured for this store: SDK retries off, each HTTP request limited by
    /// <see cref="ObjectStoreResilienceOptions.AttemptTimeout"/>, over <see cref="AzureBlobStoreOptions.Transport"/> when
    /// one is given. One per process is enough; containers share it.
    /// </summary>
    public static BlobServiceClient CreateServiceClient(AzureBlobStoreOptions options, ObjectStoreResilienceOptions? resilience = null)
    {
        new AzureBlobStoreOptionsValidator().ThrowIfInvalid(options);
        var clientOptions = CreateClientOptions(resilience, options.Transport);
        if (!string.IsNullOrWhiteSpace(options.ConnectionString)) return new BlobServiceClient(options.ConnectionString, clientOptions);
        return options.Credential is null
            ? new BlobServiceClient(options.ServiceUri!, clientOptions)
            : new BlobServiceClient(options.ServiceUri!, options.Credential, clientOptions);
    }

    public static BlobContainerClient CreateContainerClient(AzureBlobStoreOptions options, ObjectStoreResilienceOptions? resilience = null)
        => CreateServiceClient(options, resilience).GetBlobContainerClient(options.ContainerName);

    /// <summary>
    /// Client options for the stores' blob clients: no SDK retries (Polly retries, and counts them), per-request
    /// timeout, and the HTTP transport when one is given (null: the SDK's default HttpClient transport).
    /// </summary>
    public static BlobClientOptions CreateClientOptions(ObjectStoreResilienceOptions? resilience = null, HttpPipelineTransport? transport = null)
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0;
        options.Retry.NetworkTimeout = (resilience ?? new ObjectStoreResilienceOptions()).AttemptTimeout;
        if (transport is not null) options.Transport = transport;
        return options;
    }

    public string Location { get; }

    public BlobContainerClient Container => _container;

    public async Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            var properties = (await _container.GetBlobClient(key).GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return new ObjectInfo(key, properties.ContentLength, Text(properties.ETag), properties.LastModified);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectKeys.ValidatePrefix(prefix);
        // Blob listings come in ordinal (UTF-8 byte) order, as the interface promises.
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix.Length == 0 ? null : prefix }, cancellationToken)
            .GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false)) yield break;
                }
                catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode == BlobErrorCode.ContainerNotFound)
                {
                    yield break; // nothing written yet
                }
                var blob = pages.Current;
                yield return new ObjectInfo(blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.ETag is { } etag ? Text(etag) : "",
                    blob.Properties.LastModified ?? DateTimeOffset.MinValue);
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Blobs up to the read buffer size come back whole, in memory, from this one call. Larger ones come as a seekable
    /// stream of ranged reads pinned to the version opened (a concurrent replace fails the read with
    /// <see cref="ObjectModifiedException"/> rather than mixing versions).
    /// </summary>
    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        var blob = _container.GetBlobClient(key);
        try
        {
            var first = await AzureBlobReadStream.DownloadRangeAsync(blob, 0, _readBufferSize, ifMatch: null, cancellationToken).ConfigureAwait(false);
            if (first.TotalLength <= first.Length)
                return new MemoryStream(first.Buffer, 0, first.Length, writable: false, publiclyVisible: true);
            return new AzureBlobReadStream(blob, Location, key, first, _readBufferSize, _chunkReads, _chunkReadAttempts);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new ObjectNotFoundException(Location, key, ex);
        }
        catch (RequestFailedException ex) when (ex.Status == 416)
        {
            // Ranged reads of an empty blob are "not satisfiable"; make sure it is empty rather than absent.
            var info = await GetInfoAsync(key, cancellationToken).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, key, ex);
            if (info.Size != 0) throw;
            return new MemoryStream([], writable: false);
        }
    }

    public async Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
        CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        ArgumentNullException.ThrowIfNull(produce);
        var blob = _container.GetBlobClient(key);
        // Fail before producing (a stage output can take minutes); the upload's condition still decides races.
        if (condition.Kind == WriteConditionKind.CreateOnly && await blob.ExistsAsync(cancellationToken).ConfigureAwait(false))
            throw new ObjectAlreadyExistsException(Location, key);
        if (condition.Kind == WriteConditionKind.IfMatch && string.IsNullOrEmpty(condition.ETag))
            throw new ObjectModifiedException(Location, key, condition.ETag); // no version can match, as in the local store

        await using var buffer = new SpillBuffer(WriteMemoryThreshold);
        await produce(buffer, cancellationToken).ConfigureAwait(false);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);

        var upload = new BlobUploadOptions
        {
            TransferOptions = UploadTransfer,
            Conditions = condition.Kind switch
            {
                WriteConditionKind.CreateOnly => new BlobRequestConditions { IfNoneMatch = ETag.All },
                WriteConditionKind.IfMatch => new BlobRequestConditions { IfMatch = new ETag(condition.ETag!) },
                _ => null,
            },
        };
        try
        {
            BlobContentInfo committed;
            try
            {
                buffer.Position = 0;
                committed = (await blob.UploadAsync(buffer, upload, cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && ex.ErrorCode == BlobErrorCode.ContainerNotFound)
            {
                // Someone deleted the container since we created it: create it again and upload once more.
                _containerReady = false;
                await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
                buffer.Position = 0;
                committed = (await blob.UploadAsync(buffer, upload, cancellationToken).ConfigureAwait(false)).Value;
            }
            return new ObjectInfo(key, buffer.Length, Text(committed.ETag), committed.LastModified);
        }
        catch (RequestFailedException ex) when (condition.Kind == WriteConditionKind.CreateOnly
                                                && (ex.Status == 412 || (ex.Status == 409 && ex.ErrorCode == BlobErrorCode.BlobAlreadyExists)))
        {
            throw new ObjectAlreadyExistsException(Location, key, ex);
        }
        catch (RequestFailedException ex) when (condition.Kind == WriteConditionKind.CreateOnly && ex.Status == 400
                                                && ex.ErrorCode == BlobErrorCode.InvalidBlockList)
        {
            // A racing writer's commit may have discarded our staged blocks: then the race is lost, as with 409.
            if (await blob.ExistsAsync(cancellationToken).ConfigureAwait(false)) throw new ObjectAlreadyExistsException(Location, key, ex);
            throw;
        }
        catch (RequestFailedException ex) when (condition.Kind == WriteConditionKind.IfMatch && ex.Status is 412 or 404)
        {
            throw new ObjectModifiedException(Location, key, condition.ETag, ex);
        }
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            return (await _container.GetBlobClient(key)
                .DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false; // container missing
        }
    }

    public override string ToString() => Location;

    /// <summary>
    /// One spelling per version: listings give ETags bare, other responses quoted (as in the HTTP header).
    /// The quoted form is what If-Match sends back.
    /// </summary>
    internal static string Text(ETag etag)
    {
        var text = etag.ToString();
        return text.Length == 0 || text[0] == '"' || text.StartsWith("W/", StringComparison.Ordinal) ? text : $"\"{text}\"";
    }

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (_containerReady) return;
        await _containerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_containerReady) return;
            try
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status == 403)
            {
                // Credentials scoped to blobs (e.g. a container SAS) cannot create containers; the container then must exist.
            }
            _containerReady = true;
        }
        finally
        {
            _containerGate.Release();
        }
    }
}
