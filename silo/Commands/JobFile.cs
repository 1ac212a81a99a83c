using Curation.Pipelines.Spec;

namespace Curation.Silo.Commands;

/// <summary>
/// Reads the job spec a command names (<c>curate run</c>, <c>submit</c>, <c>schedule create</c>), with its relative
/// paths made absolute against the file's folder. A file that cannot be read is said in one sentence naming it
/// (<see cref="JobFileException"/>), never as a .NET exception: missing, a folder, not readable.
/// </summary>
public static class JobFile
{
    /// <exception cref="JobFileException">The file is missing, a folder, or cannot be read.</exception>
    /// <exception cref="JobSpecException">The file is not a valid job spec.</exception>
    public static async Task<JobSpec> ReadAsync(FileInfo file, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(file.FullName, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JobFileException(file.FullName, Directory.Exists(file.FullName)
                ? "is a folder, not a job spec file (name the .json spec inside it)"
                : e switch
                {
                    FileNotFoundException or DirectoryNotFoundException => "no such file",
                    UnauthorizedAccessException => "cannot be read: permission denied",
                    _ => $"cannot be read: {e.Message}",
                }, e);
        }
        return JobSpec.Parse(text).WithPathsRelativeTo(file.DirectoryName!);
    }
}

/// <summary>A job spec file that cannot be read; the message names it and says why.</summary>
public sealed class JobFileException(string path, string reason, Exception inner) : IOException($"{path}: {reason}", inner)
{
    public string Reason { get; } = reason;
}
