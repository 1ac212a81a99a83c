using System.Text.Json.Serialization;
using Curation.Pipelines.IO;
using Curation.Pipelines.IO.Readers;
using Parquet.Serialization;
using static Curation.Pipelines.Tests.IO.ReaderTestSupport;

namespace Curation.Pipelines.Tests.IO;

/// <summary>Parquet passthrough across row groups: flat columns by type family, a list column as a list, every row group.</summary>
public sealed class ParquetFieldColumnsTests
{
    private sealed class Row
    {
        [JsonPropertyName("text")] public string Text { get; set; } = "";
        [JsonPropertyName("n")] public short N { get; set; }
        [JsonPropertyName("f")] public float? F { get; set; }
        [JsonPropertyName("when")] public DateTime When { get; set; }
        [JsonPropertyName("tags")] public List<int> Tags { get; set; } = [];
    }

    [Fact]
    public async Task Every_row_group_keeps_its_fields_and_a_part_reads_only_its_row_groups()
    {
        var file = new MemoryStream();
        for (var group = 0; group < 3; group++)
        {
            var rows = Enumerable.Range(0, 4).Select(i => new Row
            {
                Text = $"doc {group}-{i}", N = (short)(group * 10 + i), F = i == 1 ? null : i / 2f,
                When = new DateTime(2026, 1, 1 + group, 0, 0, 0, DateTimeKind.Utc), Tags = [group, i, 7],
            }).ToList();
            await ParquetSerializer.SerializeAsync(rows, file, new Parquet.ParquetOptions { Append = group > 0 });
            file.Position = 0;
        }
        var bytes = file.ToArray();
        var records = await ReadAllAsync(ParquetInputReader.Instance, bytes, MakeSpec(), "t.parquet");
        Assert.Equal(12, records.Count);
        for (var r = 0; r < 12; r++)
        {
            var (group, i) = (r / 4, r % 4);
            var fields = records[r].Fields!.ToDictionary(f => f.Name, f => f.Value);
            Assert.Equal(["n", "f", "when", "tags"], records[r].Fields!.Select(f => f.Name));
            Assert.Equal((long)(group * 10 + i), fields["n"]);
            Assert.Equal(i == 1 ? null : (object)(double)(i / 2f), fields["f"]);
            Assert.StartsWith($"2026-01-0{1 + group}T00:00:00", (string)fields["when"]!);
            Assert.Equal(new List<long?> { group, i, 7 }, Assert.IsType<List<long?>>(fields["tags"]));
        }
        var hints = await ParquetInputReader.TypeHintsAsync(new MemoryStream(bytes), MakeSpec() with { DropFields = ["when"] }, default);
        Assert.Equal([("n", typeof(long)), ("f", typeof(double)), ("tags", typeof(List<long?>))], hints.Select(h => (h.Name, h.Value!.GetType())));

        var part = new InputObject("t.parquet", bytes.Length, MakeSpec()) { Part = new ObjectPart(1, 2, PartUnit.RowGroups, 1, 3, bytes.Length, FirstRecord: 4) };
        var partRecords = ReadAllOnThisThread(ParquetInputReader.Instance, new MemoryStream(bytes), part);
        Assert.Equal(records.Skip(4), partRecords);
    }
}
