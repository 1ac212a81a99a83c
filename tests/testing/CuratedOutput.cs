using System.Security.Cryptography;
using Curation.Pipelines;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Xunit;

namespace Curation.Testing;

/// <summary>What a finished job wrote, read back from its output location: for comparing runs.</summary>
public sealed record CuratedOutput(Manifest Manifest, IReadOnlyList<string> KeptIds, IReadOnlyDictionary<string, string> ShardHashes,
    IReadOnlyList<DropRow> Drops, IReadOnlyList<QuarantineRow> Quarantine)
{
    public static async Task<CuratedOutput> ReadAsync(IObjectStore store, string prefix)
    {
        var manifestKey = prefix.TrimEnd('/') + "/" + Manifest.FileName;
        var (manifest, _) = await store.TryReadJsonAsync<Manifest>(manifestKey, CurationJson.Options);
        Assert.True(manifest is not null, $"no manifest at {store.Location}/{manifestKey}");
        var ids = new List<string>();
        var hashes = new Dictionary<string, string>();
        foreach (var shard in manifest!.Shards)
        {
            var bytes = await store.ReadBytesAsync(prefix.TrimEnd('/') + "/" + shard.Key);
            hashes[shard.Key] = Convert.ToHexStringLower(SHA256.HashData(bytes));
            Assert.Equal(shard.Sha256, hashes[shard.Key]);
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(bytes));
            await foreach (var batch in reader.ReadAllAsync()) ids.AddRange(batch.Ids.List);
        }
        var drops = new List<DropRow>();
        foreach (var file in manifest.Drops) drops.AddRange(await ShuffleTable.ReadAllAsync<DropRow>(store, prefix.TrimEnd('/') + "/" + file.Key, default));
        var quarantine = new List<QuarantineRow>();
        foreach (var file in manifest.Quarantine)
        {
            await using var reader = await ParquetTableReader.OpenAsync(new MemoryStream(await store.ReadBytesAsync(prefix.TrimEnd('/') + "/" + file.Key)));
            await foreach (var b in reader.ReadAllAsync())
                for (var i = 0; i < b.RowCount; i++)
                    quarantine.Add(new QuarantineRow(b.Sources[i], b.Positions[i], b.GetColumn<string>("reason")[i], b.GetColumn<string>("detail")[i]));
        }
        return new CuratedOutput(manifest, ids, hashes, drops, quarantine);
    }
}

public sealed record QuarantineRow(string Source, long Position, string Reason, string Detail);
