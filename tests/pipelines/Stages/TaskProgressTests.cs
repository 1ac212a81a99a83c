using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;

namespace Curation.Pipelines.Tests.Stages;

public sealed class TaskProgressTests
{
    [Fact]
    public async Task Counts_flow_into_the_work_a_task_starts_and_stop_with_its_scope()
    {
        TaskProgress.Add(5, 50); // outside any scope: nothing to count into, nothing thrown
        TaskProgressSample inner, outer;
        using (var scope = TaskProgress.Begin())
        {
            TaskProgress.Expect(100, 1000);
            await Task.Run(() => Parallel.For(0, 40, _ => TaskProgress.Add(1, 10)));
            using (var nested = TaskProgress.Begin())
            {
                TaskProgress.Add(7);
                inner = nested.Sample();
            }
            TaskProgress.Add(2, 20);
            outer = scope.Sample();
        }
        Assert.Equal(new TaskProgressSample(7, 0, 0, 0), inner);
        Assert.Equal(new TaskProgressSample(42, 420, 100, 1000), outer);
        Assert.Equal(0.42, outer.Fraction!.Value, 9); // bytes decide where the task knows its bytes
    }

    [Theory]
    [InlineData(5, 0, 10, 0, 0.5)]
    [InlineData(30, 0, 10, 0, 1.0)]
    [InlineData(5, 900, 10, 1000, 0.9)]
    public void Fraction_uses_bytes_else_documents_and_never_passes_one(long documents, long bytes, long expectedDocuments, long expectedBytes, double fraction) =>
        Assert.Equal(fraction, new TaskProgressSample(documents, bytes, expectedDocuments, expectedBytes).Fraction!.Value, 9);

    [Fact]
    public void A_task_that_knows_nothing_of_its_size_has_no_fraction() => Assert.Null(new TaskProgressSample(10, 10, 0, 0).Fraction);

    [Fact]
    public async Task The_progress_stream_reports_every_byte_read()
    {
        var data = new byte[300_000];
        Random.Shared.NextBytes(data);
        using var scope = TaskProgress.Begin();
        await using (var stream = new ProgressStream(new MemoryStream(data)))
        {
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy, 4096);
            Assert.Equal(data, copy.ToArray());
        }
        Assert.Equal(data.Length, scope.Sample().Bytes);
    }
}
