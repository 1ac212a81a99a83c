using System.Diagnostics;
using System.Text.Json;
using Curation.Pipelines.Embedding;

namespace Curation.Testing;

/// <summary>
/// A real ONNX sequence-classification model for quality_score's tests (none is shipped and nothing can be downloaded):
/// the shipped all-MiniLM-L6-v2 graph with a head appended by <c>tests/testing/classifier_head.py</c> (Debian's
/// python3-onnx) — mean pooling, L2 normalisation, Gemm(W, b) → <c>logits</c> [batch, n].
/// </summary>
public static class ClassifierHeadModel
{
    /// <summary>The shipped model's files (extracted once into the default cache).</summary>
    public static Task<ModelFiles> ShippedAsync() => ShippedModel.EnsureExtractedAsync(null);

    /// <summary>Writes the model with head rows <paramref name="weights"/> (n × hidden) and <paramref name="bias"/> (n) to <paramref name="path"/>.</summary>
    public static async Task<string> BuildAsync(string path, IReadOnlyList<double[]> weights, IReadOnlyList<double> bias)
    {
        var shipped = await ShippedAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var head = path + ".head.json";
        await File.WriteAllTextAsync(head, JsonSerializer.Serialize(new { weights, bias }));
        var script = Path.Combine(RepositoryRoot.Get(), "tests", "testing", "classifier_head.py");
        var start = new ProcessStartInfo(Python, [script, shipped.ModelPath, head, path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Python} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Python} classifier_head.py failed ({process.ExitCode}; it needs Debian's python3-onnx, which test.sh installs): {await stderr}");
        return path;
    }

    /// <summary>
    /// Debian's interpreter, where python3-onnx installs: /usr/bin/python3 when present (a python3 earlier on PATH, e.g.
    /// pyenv's, lacks Debian's packages), else python3.
    /// </summary>
    private static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}
