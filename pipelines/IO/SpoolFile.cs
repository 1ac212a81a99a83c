using System.Security.Cryptography;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.IO;

/// <summary>
/// A local temporary file a task writes an output into before it is committed to the object store in one atomic,
/// create-once upload. Keeps memory bounded (outputs never sit in RAM) and makes the upload replayable on retry.
/// Deleted on dispose.
/// </summary>
public sealed class SpoolFile : IAsyncDisposable
{
    private SpoolFile(FileStream stream) => Stream = stream;

    public FileStream Stream { get; }

    public long Length => Stream.Length;

    /// <summary>Where this machine's spool files live.</summary>
    public static string Folder => Path.Combine(Path.GetTempPath(), "curation-spool");

    /// <summary>
    /// Deletes spool files whose task died with them (a killed process cannot delete on close): a live spool file is
    /// held with an exclusive lock for its whole life. Returns how many went.
    /// </summary>
    public static int SweepOrphans() => OrphanedTempFiles.Sweep(Folder, "*.tmp");

    public static SpoolFile Create()
    {
        var folder = Folder;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{Guid.NewGuid():N}.tmp");
        return new SpoolFile(new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous));
    }

    public async Task<string> Sha256Async(CancellationToken cancellationToken = default)
    {
        Stream.Position = 0;
        var hash = await SHA256.HashDataAsync(Stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Uploads the whole file create-once; an existing object (an earlier attempt's) counts as success.</summary>
    public Task<ObjectInfo> CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken = default) =>
        store.CreateOnceAsync(key, CopyToAsync, cancellationToken);

    /// <summary>Uploads the whole file create-only; throws when the key exists.</summary>
    public Task<ObjectInfo> CommitCreateOnlyAsync(IObjectStore store, string key, CancellationToken cancellationToken = default) =>
        store.WriteAsync(key, CopyToAsync, WriteCondition.CreateOnly, cancellationToken);

    private async Task CopyToAsync(Stream target, CancellationToken cancellationToken)
    {
        Stream.Position = 0;
        await Stream.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}
