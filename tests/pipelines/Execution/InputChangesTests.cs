using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Tests.Execution;

/// <summary><see cref="InputChanges"/>: a job's planned objects against the objects its inputs name now.</summary>
public sealed class InputChangesTests
{
    private static PlannedObject Object(int input, string source, long size, string etag, ObjectPart? part = null) =>
        new(input, source, "corpus/" + source, size, etag) { Part = part };

    [Fact]
    public void Changed_new_and_gone_objects_are_counted_once_each_however_many_parts_an_object_was_split_into()
    {
        var plan = new JobPlan("job", [
            new PlannedShard(0, [Object(0, "a.jsonl", 100, "e1"), Object(0, "big.jsonl", 900, "e2", new ObjectPart(0, 2, PartUnit.Bytes, 0, 450, 450))]),
            new PlannedShard(1, [Object(0, "big.jsonl", 900, "e2", new ObjectPart(1, 2, PartUnit.Bytes, 450, 900, 450)), Object(0, "gone.jsonl", 10, "e3"), Object(1, "b.parquet", 50, "e4")]),
        ]);
        Assert.False(InputChanges.Between(plan, [Object(0, "a.jsonl", 100, "e1"), Object(0, "big.jsonl", 900, "e2"), Object(0, "gone.jsonl", 10, "e3"),
            Object(1, "b.parquet", 50, "e4")]).Any);

        var changes = InputChanges.Between(plan, [
            Object(0, "a.jsonl", 100, "e1-touched"),  // another version, same size
            Object(0, "big.jsonl", 901, "e2"),        // grew
            Object(0, "new.jsonl", 5, "e5"),
            Object(0, "b.parquet", 50, "e4"),         // the same name under another input is another object
        ]);
        Assert.Equal((2, 2, 2), (changes.Changed, changes.Added, changes.Gone));
        Assert.Equal(["a.jsonl (changed)", "big.jsonl (changed)", "new.jsonl (new)"], changes.Examples);
        Assert.Equal("2 changed, 2 new, 2 gone input objects: a.jsonl (changed), big.jsonl (changed), new.jsonl (new), …", changes.ToString());
        Assert.Equal("1 gone input object: gone.jsonl (gone)",
            InputChanges.Between(plan, [Object(0, "a.jsonl", 100, "e1"), Object(0, "big.jsonl", 900, "e2"), Object(1, "b.parquet", 50, "e4")]).ToString());
    }
}
