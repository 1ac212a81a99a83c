using System.Security.Cryptography;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Xunit;

namespace Curation.Testing;

/// <summary>
/// A whole snapshot of a versioned corpus read back through its manifest: every document of its own and carried
/// shards (text, and semantic cluster where the corpus has one), the run's drops and each shard's SHA-256 (checked
/// against the manifest). Fails the test when a document appears twice.
/// </summary>
public sealed record CuratedSnapshot(Manifest Manifest, Dictionary<string, string> Texts, Dictionary<string, int> ClusterOf, List<DropRow> Drops,
    Dictionary<string, string> ShardHashes)
{
    /// <param name="manifestKey">The snapshot's manifest (relative to the corpus); null: the one current.json names.</param>
    public static async Task<CuratedSnapshot> ReadAsync(IObjectStore store, string corpusPath, string? manifestKey = null)
    {
        manifestKey ??= (await CorpusSnapshots.ReadCurrentAsync(store, corpusPath)).Value!.Manifest;
        var manifest = (await CorpusSnapshots.ReadManifestAsync(store, corpusPath, manifestKey))!;
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        var clusterOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var hashes = new Dictionary<string, string>();
        foreach (var shard in manifest.AllShards)
        {
            var bytes = await store.ReadBytesAsync($"{corpusPath}/{shard.Key}");
            hashes[shard.Key] = Convert.ToHexStringLower(SHA256.HashData(bytes));
            Assert.Equal(shard.Sha256, hashes[shard.Key]);
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(bytes));
            await foreach (var batch in reader.ReadAllAsync())
            {
                var clusters = batch.Find(SemanticDedupStage.ClusterColumn) is null ? null : batch.GetColumn<int>(SemanticDedupStage.ClusterColumn);
                for (var i = 0; i < batch.RowCount; i++)
                {
                    Assert.True(texts.TryAdd(batch.Ids[i], batch.Texts[i]), $"{batch.Ids[i]} twice in the snapshot");
                    if (clusters is not null) clusterOf[batch.Ids[i]] = clusters[i];
                }
            }
        }
        var drops = new List<DropRow>();
        foreach (var file in manifest.Drops) drops.AddRange(await ShuffleTable.ReadAllAsync<DropRow>(store, $"{corpusPath}/{file.Key}", default));
        return new CuratedSnapshot(manifest, texts, clusterOf, drops, hashes);
    }
}
