using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Embedding;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Pins the bytes the README's demo job writes (every stage: read, normalize, quality filter, exact and near dedup,
/// tokenize, embed, semantic dedup, token output), so an engine refactor that must not change the output proves it:
/// the shard, drops and quarantine objects (keys, rows, SHA-256), the embedding objects' keys and rows, the books and
/// the token totals. Timings and the free-form reports are left out. The expected digest was recorded on main before issue 13's refactor.
/// </summary>
public sealed class GoldenOutputTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    /// <summary>
    /// SHA-256 of <see cref="Describe"/> for the demo job, per <see cref="OnnxKernelFamily"/>: the shards carry
    /// semantic_dedup's <c>semantic_max_similarity</c>, a float the transformer's embeddings give, and AVX-512 and AVX2
    /// kernels round its last bits differently (the books, 2,000 = 1,625 kept + 375 dropped, are the same on both).
    /// AVX-512: recorded on main after issues 14 and 19 merged (before issue 13's refactor) as 87edc091…6164; changed
    /// deliberately by issue 20, whose Parquet files hold no min/max statistics for string columns: the shard and drops
    /// objects lost those bytes (3–4 KB each), every key, row count, schema, book and token total stayed the same (the
    /// two descriptions differ in those objects' sizes and SHA-256 only). AVX2: recorded on an AVX2-only AMD EPYC at
    /// 71cd3a0 (the same books; the AVX-512 description itself was not at hand to compare line by line).
    /// </summary>
    private static readonly Dictionary<string, string> DemoDigests = new(StringComparer.Ordinal)
    {
        [OnnxKernelFamily.Avx512] = "5f15292d3a997c1ebe55dfb21a1dd3764223dc00c6a7a27f18bc52931ee9ee4f",
        [OnnxKernelFamily.Avx2] = "ef8b4b0be400f4d9bb1aa0d5161fcb4fec27a79dec055589c788db45f9c79e79",
    };

    private readonly TempDirectory _temp = new("golden");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Demo_job_writes_the_pinned_bytes()
    {
        var samples = Path.Combine(RepositoryRoot.Get(), "samples");
        var spec = JobSpec.Parse(await File.ReadAllTextAsync(Path.Combine(samples, "demo.job.json"))).WithPathsRelativeTo(samples);
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("data") });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services, parallelism: 3);

        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/demo");
        var description = Describe(output);
        log.WriteLine(description);
        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(description)));
        log.WriteLine($"digest {digest}, kernel family {OnnxKernelFamily.Current}");
        // The books hold whatever the family: 2,000 in = 1,625 kept + 375 dropped, none quarantined.
        Assert.Equal((2000L, 1625L), (output.Manifest.Accounting.Stages[0].In, output.Manifest.Accounting.Kept));
        Assert.True(DemoDigests.TryGetValue(OnnxKernelFamily.Current, out var expected),
            $"no digest recorded for kernel family {OnnxKernelFamily.Current}: record {digest} after checking its description");
        Assert.Equal(expected, digest);
    }

    /// <summary>The parts of a job's output that must not change: one line per object, then the books and token totals.</summary>
    private static string Describe(CuratedOutput output)
    {
        var manifest = output.Manifest;
        var lines = new List<string>();
        void Objects(string kind, IEnumerable<OutputObject> objects) =>
            lines.AddRange(objects.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{kind} {o.Key} {o.Rows} {o.Bytes} {o.Sha256}"));
        Objects("shard", manifest.Shards);
        Objects("drops", manifest.Drops);
        Objects("quarantine", manifest.Quarantine);
        // Embedding floats may differ in the last bit on a CPU with other vector instructions: their rows are pinned, their
        // bytes are not (the decisions made from them are, through the shards and drops).
        lines.AddRange(manifest.Embeddings.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"embeddings {o.Key} {o.Rows}"));
        lines.Add("schema " + JsonSerializer.Serialize(manifest.Schema, CurationJson.Options));
        lines.Add("accounting " + JsonSerializer.Serialize(manifest.Accounting, CurationJson.Options));
        lines.Add("errors " + JsonSerializer.Serialize(manifest.Errors, CurationJson.Options));
        if (manifest.Tokens is { } tokens) lines.Add($"tokens {tokens.Tokenizer} {tokens.DType} {tokens.VocabSize} {tokens.Documents} {tokens.Tokens}");
        return string.Join('\n', lines);
    }
}
