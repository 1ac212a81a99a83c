using System.Diagnostics;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Silo.Tests;

/// <summary><c>curate run</c> writes token files; <c>curate inspect tokens</c> reads them back and decodes a document to its text.</summary>
public sealed class InspectTokensCliTests : IDisposable
{
    private readonly TempDirectory _temp = new("inspect-tokens");

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Code, string Output)> CurateAsync(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, "curate.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"curate {string.Join(' ', args)} did not finish");
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task Inspect_prints_counts_and_dtype_and_decodes_a_document_with_the_manifest_tokenizer()
    {
        var spec = new JobSpec
        {
            Name = "inspect", Seed = 1,
            Inputs = [new InputSpec { Path = Path.Combine(RepositoryRoot.Get(), "samples", "corpus", "part-0001.jsonl"), IdField = "id" }],
            Stages = [new TrainTokenizeStageSpec { Encoding = "cl100k_base" }],
            Output = new OutputSpec { Path = "curated/inspect", Tokens = new TokensOutputSpec() },
        };
        var specFile = _temp.Combine("job.json");
        await File.WriteAllTextAsync(specFile, spec.ToJson());
        var data = _temp.Combine("data");
        var run = await CurateAsync(_temp.Path, "run", specFile, "--data", data);
        Assert.True(run.Code == 0, run.Output);

        var root = Path.Combine(data, "curated", "inspect");
        var (manifest, _) = await new LocalFolderStore(root).TryReadJsonAsync<Manifest>(Manifest.FileName, CurationJson.Options);
        var idx = manifest!.Tokens!.Files.First(f => f.Kind == Pipelines.Stages.TokenShards.MegatronIdx);
        var texts = new HashSet<string>();
        await using (var reader = await ParquetTableReader.OpenAsync(File.OpenRead(Path.Combine(root, manifest.Shards[0].Key))))
            await foreach (var batch in reader.ReadAllAsync()) texts.UnionWith(batch.Texts.List);

        foreach (var path in new[] { Path.Combine(root, idx.Key), Path.Combine(root, idx.Key[..^4] + ".tokens.npy") })
        {
            var inspect = await CurateAsync(_temp.Path, "inspect", "tokens", path, "--document", "3");
            Assert.True(inspect.Code == 0, inspect.Output);
            Assert.Contains($"documents  {idx.Documents}", inspect.Output);
            Assert.Contains($"tokens     {idx.Tokens}", inspect.Output);
            Assert.Contains("dtype      int32", inspect.Output);
            Assert.Contains("tokenizer  cl100k_base", inspect.Output);   // from the manifest above the file
            var decoded = inspect.Output.Split('\n').SkipWhile(l => !l.StartsWith("document 3:", StringComparison.Ordinal)).Skip(1);
            Assert.Contains(string.Join('\n', decoded).TrimEnd('\n'), texts);
        }
        var missing = await CurateAsync(_temp.Path, "inspect", "tokens", Path.Combine(root, "tokens", "nothing.bin"));
        Assert.Equal(2, missing.Code);
    }
}
