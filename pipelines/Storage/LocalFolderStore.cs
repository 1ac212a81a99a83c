using System.Runtime.CompilerServices;
using Curation.Pipelines.IO;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Storage;

/// <summary>
/// The embedded object store: one file per key under a root folder (default <c>./data</c>).
/// Writes go to <c>{root}/.tmp/</c> first and are renamed into place, so readers see whole objects or none.
/// </summary>
/// <remarks>
/// The ETag is the file's last-write time (UTC ticks) and size. Every commit stamps the new file with a time strictly
/// later than the one it replaces, so coarse file-system clocks cannot hand two versions the same ETag.
/// Conditional commits (create-only, If-Match) are checked and applied under a per-path lock shared by every
/// instance in this process; across processes, create-only stays exact (no-clobber rename) but If-Match is best-effort.
/// A key cannot be both an object and a "folder" of other keys here (e.g. "a" and "a/b"), unlike in blob storage.
/// </remarks>
public sealed class LocalFolderStore : IObjectStore
{
    private const int WriteBufferSize = 1 << 16;

    // Striped locks: bounded memory however many keys exist; collisions only serialise unrelated commits briefly.
    private static readonly object[] CommitLocks = Enumerable.Range(0, 64).Select(_ => new object()).ToArray();

    private readonly string _tempRoot;
    private readonly AllowedRoots? _confinedTo;
    private int _tempReady;

    /// <param name="confinedTo">
    /// When set, every file and folder this store lists, opens or writes must really (after resolving symbolic links)
    /// lie inside one of these roots: a link to a folder outside is not followed by listings, and opening or writing
    /// through a link that leads outside is refused, naming the path and the roots. Checked when a file is opened, on
    /// the opened file itself, so a link swapped in after planning does not escape.
    /// </param>
    public LocalFolderStore(string rootPath, AllowedRoots? confinedTo)
        : this(rootPath)
    {
        _confinedTo = confinedTo;
    }

    public LocalFolderStore(string rootPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootPath);
        RootPath = Path.GetFullPath(rootPath);
        _tempRoot = Path.Combine(RootPath, ObjectKeys.ReservedTempSegment);
        Location = new Uri(Path.TrimEndingDirectorySeparator(RootPath) + Path.DirectorySeparatorChar).AbsoluteUri.TrimEnd('/');
    }

    public LocalFolderStore(IOptions<LocalFolderStoreOptions> options) : this(options.Value.RootPath) { }

    /// <summary>A local store wrapped in the standard retry policy (see <see cref="ResilientObjectStore"/>).</summary>
    public static ResilientObjectStore Create(string rootPath, ObjectStoreResilienceOptions? resilience = null, AllowedRoots? confinedTo = null)
        => new(new LocalFolderStore(rootPath, confinedTo), resilience ?? new ObjectStoreResilienceOptions());

    /// <summary>The absolute root folder.</summary>
    public string RootPath { get; }

    public string Location { get; }

    public Task<ObjectInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        cancellationToken.ThrowIfCancellationRequested();
        var file = new FileInfo(PathOf(key));
        if (file.Exists) CheckConfined(key, file.FullName);
        return Task.FromResult(file.Exists ? InfoOf(key, file) : null);
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectKeys.ValidatePrefix(prefix);
        // Directory walking is synchronous: leave the caller's thread before doing it.
        await Task.Yield();
        var lastSlash = prefix.LastIndexOf('/');
        var folderKey = lastSlash < 0 ? "" : prefix[..(lastSlash + 1)];
        var folder = new DirectoryInfo(folderKey.Length == 0 ? RootPath : PathOf(folderKey.TrimEnd('/')));
        if (!folder.Exists) yield break;
        CheckConfined(folderKey, folder.FullName);
        foreach (var info in Walk(folder, folderKey, prefix))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return info;
        }
    }

    /// <summary>
    /// Depth-first walk in ordinal key order without holding the whole listing: a folder "a" is ordered as "a/",
    /// which places its keys exactly where their full keys sort among the files beside it.
    /// </summary>
    private IEnumerable<ObjectInfo> Walk(DirectoryInfo folder, string folderKey, string prefix)
    {
        var entries = new List<(string SortKey, FileSystemInfo Entry)>();
        foreach (var entry in folder.EnumerateFileSystemInfos())
        {
            if (folderKey.Length == 0 && entry.Name == ObjectKeys.ReservedTempSegment) continue;
            // A link to a folder outside the allowed roots is not followed (a file link is listed; opening it is refused).
            if (_confinedTo is not null && entry is DirectoryInfo && entry.LinkTarget is not null && !_confinedTo.Contains(RealPaths.Resolve(entry.FullName)))
                continue;
            entries.Add((entry is DirectoryInfo ? entry.Name + "/" : entry.Name, entry));
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.SortKey, b.SortKey));

        foreach (var (sortKey, entry) in entries)
        {
            var key = folderKey + sortKey;
            if (entry is DirectoryInfo subfolder)
            {
                // Descend only where keys can still match the prefix.
                if (key.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(key, StringComparison.Ordinal))
                    foreach (var info in Walk(subfolder, key, prefix)) yield return info;
            }
            else if (key.StartsWith(prefix, StringComparison.Ordinal) && entry is FileInfo file)
            {
                file.Refresh();
                if (file.Exists) yield return InfoOf(key, file); // it may have been deleted since the folder was read
            }
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathOf(key);
        try
        {
            // FileShare.Delete: a concurrent replace or delete must not fail; this reader keeps the version it opened.
            // A LocalFileStream: its asynchronous reads complete in place instead of hopping through the thread pool.
            var stream = new LocalFileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, WriteBufferSize);
            try
            {
                if (_confinedTo is not null) CheckConfined(key, path, OpenedPath(stream) ?? RealPaths.Resolve(path));
            }
            catch
            {
                stream.Dispose();
                throw;
            }
            return Task.FromResult<Stream>(stream);
        }
        catch (Exception ex) when ((ex is IOException && !File.Exists(path)) // missing, or a parent segment is an object
                                   || (ex is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new ObjectNotFoundException(Location, key, ex);
        }
    }

    /// <summary>
    /// The object's confined path and a fresh part in the temp folder; a create-only write fails fast here, before anything
    /// is produced (the check is repeated under the lock at commit time).
    /// </summary>
    private (string Path, string TempPath) PrepareWrite(string key, WriteCondition condition)
    {
        ObjectKeys.Validate(key);
        var path = PathOf(key);
        CheckConfined(key, path);
        if (condition.Kind == WriteConditionKind.CreateOnly && File.Exists(path))
            throw new ObjectAlreadyExistsException(Location, key);
        EnsureTempFolder();
        return (path, Path.Combine(_tempRoot, $"{Guid.NewGuid():N}.part"));
    }

    public async Task<ObjectInfo> WriteAsync(string key, Func<Stream, CancellationToken, Task> produce, WriteCondition condition,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(produce);
        var (path, tempPath) = PrepareWrite(key, condition);
        // Held open (and so locked) until it is renamed into place: a part nobody holds is a dead writer's (see SweepOrphanedParts).
        var temp = new LocalFileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, WriteBufferSize);
        try
        {
            await produce(temp, cancellationToken).ConfigureAwait(false);
            await temp.FlushAsync(cancellationToken).ConfigureAwait(false);
            temp.Flush(flushToDisk: true); // durable before it becomes visible: the store is the source of truth
            cancellationToken.ThrowIfCancellationRequested();
            CreateParentFolder(key, path);
            CheckConfined(key, path); // again: a folder on the way may have been swapped for a link meanwhile
            if (OperatingSystem.IsWindows()) await temp.DisposeAsync().ConfigureAwait(false); // Windows cannot rename an open file
            lock (CommitLockFor(path))
                return Commit(key, path, tempPath, condition);
        }
        finally
        {
            await temp.DisposeAsync().ConfigureAwait(false);
            TryDelete(tempPath);
        }
    }

    /// <summary>
    /// A finished local file on this file system is moved into the temp folder (made durable first: <see cref="ILocalFile.TryMoveTo"/>)
    /// and committed like any write, without copying its bytes; elsewhere it is copied (<see cref="WriteAsync"/>).
    /// </summary>
    public Task<ObjectInfo> WriteFileAsync(string key, ILocalFile file, WriteCondition condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var (path, tempPath) = PrepareWrite(key, condition);
        if (!file.TryMoveTo(tempPath)) return WriteAsync(key, file.CopyToAsync, condition, cancellationToken);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            CreateParentFolder(key, path);
            CheckConfined(key, path);
            lock (CommitLockFor(path))
                return Task.FromResult(Commit(key, path, tempPath, condition));
        }
        finally
        {
            TryDelete(tempPath);
        }
    }

    private ObjectInfo Commit(string key, string path, string tempPath, WriteCondition condition)
    {
        if (Directory.Exists(path))
            throw new ObjectStoreException(Location, key, "other keys live under this key, which a local folder store cannot hold");
        var current = new FileInfo(path);
        switch (condition.Kind)
        {
            case WriteConditionKind.CreateOnly when current.Exists:
                throw new ObjectAlreadyExistsException(Location, key);
            case WriteConditionKind.IfMatch when !current.Exists || ETagOf(current) != condition.ETag:
                throw new ObjectModifiedException(Location, key, condition.ETag);
        }

        var stamp = DateTime.UtcNow.Ticks;
        if (current.Exists) stamp = Math.Max(stamp, current.LastWriteTimeUtc.Ticks + 1);
        File.SetLastWriteTimeUtc(tempPath, new DateTime(stamp, DateTimeKind.Utc));
        var info = InfoOf(key, new FileInfo(tempPath)); // rename keeps size and time, and no one else sees the temp file

        try
        {
            File.Move(tempPath, path, overwrite: condition.Kind != WriteConditionKind.CreateOnly);
        }
        catch (IOException ex) when (condition.Kind == WriteConditionKind.CreateOnly && File.Exists(path))
        {
            throw new ObjectAlreadyExistsException(Location, key, ex); // another process won the race
        }
        return info;
    }

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathOf(key);
        lock (CommitLockFor(path))
        {
            var file = new FileInfo(path);
            if (!file.Exists) return Task.FromResult(false);
            file.Delete();
            // Empty folders are left behind on purpose: removing them would race with writers creating them.
            return Task.FromResult(true);
        }
    }

    public override string ToString() => Location;

    private string PathOf(string key) => Path.Combine(RootPath, key.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Refuses <paramref name="path"/> (of <paramref name="key"/>) when its real path is outside the allowed roots.</summary>
    private void CheckConfined(string key, string path, string? realPath = null)
    {
        if (_confinedTo is null) return;
        realPath ??= RealPaths.Resolve(path);
        if (_confinedTo.Contains(realPath)) return;
        throw new ObjectStoreException(Location, key,
            $"{path} resolves (through symbolic links) to {realPath}, which is outside the allowed roots ({_confinedTo}; Curation:Api:AllowedRoots)");
    }

    /// <summary>The real path of an opened file, as the kernel names it (Linux: /proc/self/fd), or null where it cannot say.</summary>
    private static string? OpenedPath(FileStream stream)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try { return new FileInfo($"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}").LinkTarget; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static object CommitLockFor(string path) => CommitLocks[(uint)StringComparer.Ordinal.GetHashCode(path) % CommitLocks.Length];

    private static ObjectInfo InfoOf(string key, FileInfo file) => new(key, file.Length, ETagOf(file), new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));

    private static string ETagOf(FileInfo file) => $"{file.LastWriteTimeUtc.Ticks:x}-{file.Length:x}";

    private void CreateParentFolder(string key, string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        }
        catch (IOException ex)
        {
            // Not transient: a prefix of this key is itself an object (e.g. writing "a/b" when "a" exists).
            throw new ObjectStoreException(Location, key, "a parent segment of this key is an object, which a local folder store cannot hold", ex);
        }
    }

    private void EnsureTempFolder()
    {
        if (Volatile.Read(ref _tempReady) == 1 && Directory.Exists(_tempRoot)) return;
        Directory.CreateDirectory(_tempRoot);
        if (Interlocked.Exchange(ref _tempReady, 1) == 1) return;
        SweepOrphanedParts();
    }

    /// <summary>
    /// Deletes the temp parts of writers that died (a killed task or process): every live writer holds its part locked
    /// until it is renamed into place, so an unlocked part is an orphan, whoever left it. Returns how many went.
    /// </summary>
    public int SweepOrphanedParts() => OrphanedTempFiles.Sweep(_tempRoot, "*.part");

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
