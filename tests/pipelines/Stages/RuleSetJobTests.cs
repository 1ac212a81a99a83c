using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>The rule sets as stages of a job: each drop reason is counted in the manifest, which balances, and c4 rewrites texts.</summary>
public sealed class RuleSetJobTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("rule-sets");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Every_rule_set_runs_in_a_job_and_its_drop_reasons_are_counted_in_the_manifest()
    {
        var input = _temp.Combine("corpus");
        Directory.CreateDirectory(input);
        foreach (var f in new[] { "faq.jsonl", "th.jsonl" })
            File.Copy(Path.Combine(RepositoryRoot.Get(), "tests", "data", "multilingual", f), Path.Combine(input, f));
        var spec = new JobSpec
        {
            Name = "rule-sets",
            Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Stages =
            [
                new NormalizeStageSpec(), new QualityFilterStageSpec(), new GopherRepetitionStageSpec(), new GopherQualityStageSpec(),
                new C4StageSpec(), new FineWebQualityStageSpec(),
            ],
            Output = new OutputSpec { Path = "curated/rules" },
        };
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("store") });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(spec, stores, services);
        var result = await CuratedOutput.ReadAsync(stores.DataStore, "curated/rules");

        Assert.Empty(result.Manifest.Accounting.Imbalances());
        foreach (var account in result.Manifest.Accounting.Stages)
            output.WriteLine($"{account.Stage}: in {account.In}, kept {account.Kept}, {string.Join(", ", account.Dropped.Select(d => $"{d.Key} {d.Value}"))}");
        var byStage = result.Drops.GroupBy(d => d.Stage).ToDictionary(g => g.Key, g => g.GroupBy(d => d.Reason).ToDictionary(r => r.Key, r => (long)r.Count()));
        foreach (var account in result.Manifest.Accounting.Stages.Where(a => a.Dropped.Count > 0))
            Assert.Equal(account.Dropped.OrderBy(d => d.Key), byStage[StageRegistry.FindByStageName(account.Stage)!.Type].OrderBy(d => d.Key));
        Assert.Contains(result.Manifest.Schema, c => c.Name == C4Transform.LinesRemovedColumn);
        // As MultilingualRulesTests finds per rule set: the FAQ sections that are short or mostly commands go, in every language.
        Assert.True(result.KeptIds.Count >= 140, $"{result.KeptIds.Count} of 180 real documents kept");
        Assert.All(result.Drops, d => Assert.False(string.IsNullOrEmpty(d.Detail)));
    }
}
