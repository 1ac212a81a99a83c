namespace Curation.Pipelines.Storage;

/// <summary>
/// Temp files a writer died with (a killed task's <c>.tmp/*.part</c> in a local store, its spool files): every writer
/// holds its file open with an exclusive lock (<see cref="FileShare.None"/>, an advisory <c>flock</c> on Linux) until
/// the file is committed or deleted, so a file nobody holds is an orphan. A sweep deletes those; it runs when a task
/// starts (so a retried task clears what its killed attempt left) and when a job completes.
/// </summary>
public static class OrphanedTempFiles
{
    /// <summary>Younger files are left alone: a writer takes its lock just after creating its file.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromSeconds(2);

    /// <summary>Deletes the files of <paramref name="folder"/> matching <paramref name="pattern"/> that no live writer holds; returns how many.</summary>
    public static int Sweep(string folder, string pattern)
    {
        var removed = 0;
        try
        {
            if (!Directory.Exists(folder)) return 0;
            foreach (var file in new DirectoryInfo(folder).EnumerateFiles(pattern))
            {
                if (DateTime.UtcNow - file.LastWriteTimeUtc < MinimumAge) continue;
                try
                {
                    // Taking the lock proves the writer is gone; the file goes when this handle closes.
                    using (new FileStream(file.FullName, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
                    removed++;
                }
                catch (IOException) { } // held by a live writer, or already gone
                catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return removed;
    }

    /// <summary>Sweeps a store's temp folder when it keeps one (a local folder store, possibly behind the retry wrapper).</summary>
    public static int Sweep(IObjectStore store) => store switch
    {
        LocalFolderStore local => local.SweepOrphanedParts(),
        ResilientObjectStore resilient => Sweep(resilient.Inner),
        _ => 0,
    };
}
