using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.IO;

/// <summary>
/// A local temporary file a task writes an output into before it is committed to the object store in one atomic,
/// create-once upload. Keeps memory bounded (outputs never sit in RAM) and makes the upload replayable on retry.
/// Deleted on dispose. A local folder store on the same file system takes the file itself instead of a copy
/// (<see cref="ILocalFile.TryMoveTo"/>); the spool then reads the moved file, which it no longer deletes.
/// </summary>
public sealed partial class SpoolFile : IAsyncDisposable, ILocalFile
{
    private string? _path;

    private SpoolFile(FileStream stream, string path)
    {
        Stream = stream;
        _path = path;
    }

    /// <summary>
    /// The file: written before its commit, read (from the moved file, read-only, after a move) after it. Its asynchronous
    /// calls complete in place (<see cref="LocalFileStream"/>): a task's writes never hop through the thread pool.
    /// </summary>
    public FileStream Stream { get; private set; }

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
        return new SpoolFile(new LocalFileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16,
            FileOptions.DeleteOnClose), path);
    }

    public async Task<string> Sha256Async(CancellationToken cancellationToken = default)
    {
        Stream.Position = 0;
        var hash = await SHA256.HashDataAsync(Stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Uploads (or moves) the whole file create-once; an existing object (an earlier attempt's) counts as success.</summary>
    public Task<ObjectInfo> CommitOnceAsync(IObjectStore store, string key, CancellationToken cancellationToken = default) =>
        store.CreateOnceAsync(key, this, cancellationToken);

    /// <summary>Uploads (or moves) the whole file create-only; throws when the key exists.</summary>
    public Task<ObjectInfo> CommitCreateOnlyAsync(IObjectStore store, string key, CancellationToken cancellationToken = default) =>
        store.WriteFileAsync(key, this, WriteCondition.CreateOnly, cancellationToken);

    /// <summary>Whether the file was moved into a store (<see cref="ILocalFile.TryMoveTo"/>).</summary>
    public bool Moved => _path is null;

    async Task ILocalFile.CopyToAsync(Stream target, CancellationToken cancellationToken)
    {
        Stream.Position = 0;
        await Stream.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Linux only (a rename that never falls back to a copy): fsync, stamp, rename, then close the writing handle (its lock
    /// with it; deleting on close finds no file at the old name) and reopen the moved file read-only and shared, so readers
    /// of the committed object are not refused and an orphan sweep (which must lock exclusively) leaves the part alone.
    /// </summary>
    bool ILocalFile.TryMoveTo(string path)
    {
        if (_path is not { } from || !OperatingSystem.IsLinux()) return false;
        Stream.Flush(flushToDisk: true); // durable before it becomes visible, as a copied write is
        File.SetLastWriteTimeUtc(from, DateTime.UtcNow);
        if (Rename(from, path) != 0) return false; // EXDEV (another file system) and the like: the store copies instead
        _path = null;
        var written = Stream;
        written.Dispose();
        Stream = new LocalFileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rename(string from, string to);

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}
