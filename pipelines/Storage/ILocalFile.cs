namespace Curation.Pipelines.Storage;

/// <summary>
/// A finished local file on its way into an object store (<see cref="IObjectStore.WriteFileAsync"/>). Every store can copy
/// it; a store on the same file system may take the file itself instead (<see cref="TryMoveTo"/>), which spares a copy of
/// every byte (a shard's spool file becomes the object).
/// </summary>
public interface ILocalFile
{
    /// <summary>Copies the whole file, from its start, to <paramref name="target"/>; called again when a write is retried.</summary>
    Task CopyToAsync(Stream target, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the file durable (flushed to disk) and renames it to <paramref name="path"/>, on this file system only. Returns
    /// false, leaving the file where it was, when it cannot (another file system, this platform, moved already): the store
    /// copies it then. Once moved, the file stays readable through its owner; it holds no lock on <paramref name="path"/>
    /// that would refuse readers, and it is stamped as just written (an orphan sweep leaves a young part alone).
    /// </summary>
    bool TryMoveTo(string path);
}
