using Curation.Pipelines.Spec;

namespace Curation.Pipelines.Tests.Spec;

/// <summary>The data store's own folders (jobs/, state/ — reminders and schedules included — and .tmp/) are never a job's input or output, in any path form.</summary>
public sealed class DataStoreFoldersTests
{
    private const string LocalStore = "file:///srv/curation/data";
    private const string BlobStore = "az://curation";

    private static JobSpec Spec(string input, string output) => new()
    {
        Name = "paths", Inputs = [new InputSpec { Path = input }], Stages = [], Output = new OutputSpec { Path = output },
    };

    [Theory]
    [InlineData("state/job/*.json", null)]
    [InlineData("jobs/**/*.parquet", null)]
    [InlineData("./jobs/x/*.parquet", null)]
    [InlineData("curated/../state/job/*.json", null)]
    [InlineData(".tmp/*.part", null)]
    [InlineData("state/reminders/*.json", null)]
    [InlineData("**/*.parquet", null)]
    [InlineData("j*/**/*.parquet", null)]
    [InlineData("*", null)]
    [InlineData("data:state/job/*.json", null)]
    [InlineData("data:/jobs/x/*.parquet", null)]
    [InlineData("data:curated/../jobs/*.parquet", null)]
    [InlineData("/srv/curation/data/jobs/x/01-normalize/00000.parquet", LocalStore)]
    [InlineData("/srv/curation/data/./state//job/*.json", LocalStore)]
    [InlineData("/srv/curation/data/corpus/../jobs/*.parquet", LocalStore)]
    [InlineData("/srv/curation/data", LocalStore)]
    [InlineData("file:///srv/curation/data/state/job/*.json", LocalStore)]
    [InlineData("file://localhost/srv/curation/data/jobs/*.parquet", LocalStore)]
    [InlineData("file://LOCALHOST/srv/curation/data/.tmp/*.part", LocalStore)]
    [InlineData("az://curation/state/job/*.json", BlobStore)]
    [InlineData("az://curation/jobs/x/01-normalize/00000.parquet", BlobStore)]
    [InlineData("az://curation", BlobStore)]
    public void An_input_in_the_stores_own_folders_is_refused(string input, string? store)
    {
        var errors = JobSpecValidator.Validate(Spec(input, "curated/x"), dataStoreLocation: store);
        Assert.Contains(errors, e => e.Field == "inputs[0].path" && e.Message.Contains("data store", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("state/job", null)]
    [InlineData("jobs/x", null)]
    [InlineData(".tmp/x", null)]
    [InlineData("state/reminders", null)]
    [InlineData("", null)]
    [InlineData(".", null)]
    [InlineData("data:", null)]
    [InlineData("data:state/job", null)]
    [InlineData("/srv/curation/data/state/job", LocalStore)]
    [InlineData("/srv/curation/data/", LocalStore)]
    [InlineData("file:///srv/curation/data/jobs/x", LocalStore)]
    [InlineData("file://localhost/srv/curation/data/.tmp/x", LocalStore)]
    [InlineData("az://curation/state/job", BlobStore)]
    [InlineData("az://curation/jobs", BlobStore)]
    public void An_output_in_the_stores_own_folders_or_its_root_is_refused(string output, string? store)
    {
        var errors = JobSpecValidator.Validate(Spec("corpus/*.jsonl", output), dataStoreLocation: store);
        Assert.Contains(errors, e => e.Field == "output.path");
    }

    [Theory]
    [InlineData("corpus/*.jsonl", "curated/x", null)]
    [InlineData("corpus/jobs/*.jsonl", "curated/state", null)]
    [InlineData("jobsite/*.jsonl", "statements/x", null)]
    [InlineData("/srv/curation/data/corpus/*.jsonl", "/srv/curation/data/curated/x", LocalStore)]
    [InlineData("/srv/curation/database/jobs/*.jsonl", "/srv/other/state/x", LocalStore)]
    [InlineData("file://localhost/srv/corpora/*.jsonl", "file:///srv/out/x", LocalStore)]
    [InlineData("az://curation/corpus/*.jsonl", "az://curation/curated/x", BlobStore)]
    [InlineData("az://other/state/job/*.json", "az://other/jobs/x", BlobStore)]
    [InlineData("az://curation/state/x.jsonl", "az://curation/jobs/x", LocalStore)]
    public void Paths_beside_the_stores_own_folders_are_accepted(string input, string output, string? store)
    {
        Assert.Empty(JobSpecValidator.Validate(Spec(input, output), dataStoreLocation: store));
    }

    [Fact]
    public void A_file_url_of_another_host_is_refused_at_validation_and_localhost_parses_as_a_local_path()
    {
        Assert.Contains(JobSpecValidator.Validate(Spec("file://fileserver/srv/corpus/*.jsonl", "curated/x")), e => e.Field == "inputs[0].path");
        var location = StoreLocation.Parse("file://localhost/srv/corpus/*.jsonl");
        Assert.Equal(StoreKind.LocalFolder, location.Kind);
        Assert.Equal("/srv/corpus", location.Root);
        Assert.Equal("*.jsonl", location.Glob);
    }
}
