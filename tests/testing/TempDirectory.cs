namespace Curation.Testing;

/// <summary>A fresh folder under the system temp folder, deleted (best-effort) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? hint = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "curation-tests", $"{hint ?? "tmp"}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside this folder (not created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public override string ToString() => Path;

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
