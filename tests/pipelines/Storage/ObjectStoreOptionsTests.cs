using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Tests.Storage;

public sealed class ObjectStoreOptionsTests
{
    [Fact]
    public async Task The_local_provider_registers_a_resilient_local_store()
    {
        using var root = new TempDirectory("di");
        using var services = new ServiceCollection()
            .AddLocalFolderObjectStore(o => o.RootPath = root.Path, r => r.MaxRetryAttempts = 2)
            .BuildServiceProvider();

        var store = Assert.IsType<ResilientObjectStore>(services.GetRequiredService<IObjectStore>());
        var local = Assert.IsType<LocalFolderStore>(store.Inner);
        Assert.Equal(root.Path, local.RootPath);
        await store.WriteBytesAsync("x", new byte[] { 1 }, WriteCondition.CreateOnly);
        Assert.True(File.Exists(root.Combine("x")));
        Assert.Equal(2, services.GetRequiredService<IOptions<ObjectStoreResilienceOptions>>().Value.MaxRetryAttempts);
    }

    [Fact]
    public void The_azure_provider_registers_a_resilient_blob_store()
    {
        using var services = new ServiceCollection()
            .AddAzureBlobObjectStore(o =>
            {
                o.ConnectionString = "UseDevelopmentStorage=true";
                o.ContainerName = "jobs-data";
            })
            .BuildServiceProvider();

        var store = Assert.IsType<ResilientObjectStore>(services.GetRequiredService<IObjectStore>());
        Assert.IsType<AzureBlobStore>(store.Inner);
        Assert.Equal("az://jobs-data", store.Location);
    }

    [Fact]
    public void Bad_provider_options_fail_naming_the_field()
    {
        using var services = new ServiceCollection()
            .AddAzureBlobObjectStore(o => o.ContainerName = "Bad_Name")
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IObjectStore>());
        Assert.Contains("ConnectionString", error.Message);
        Assert.Contains("ContainerName 'Bad_Name'", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void A_missing_root_path_is_named(string rootPath)
    {
        var result = new LocalFolderStoreOptionsValidator().Validate(null, new LocalFolderStoreOptions { RootPath = rootPath });
        Assert.True(result.Failed);
        Assert.Contains("LocalFolderStoreOptions.RootPath", result.FailureMessage);
    }

    [Fact]
    public void A_root_path_that_is_a_file_is_named()
    {
        using var dir = new TempDirectory("opts");
        var file = dir.Combine("f");
        File.WriteAllText(file, "");
        var result = new LocalFolderStoreOptionsValidator().Validate(null, new LocalFolderStoreOptions { RootPath = file });
        Assert.Contains("RootPath", result.FailureMessage);
    }

    [Theory]
    [InlineData("ab", "3 to 63")]
    [InlineData("Curation", "lowercase")]
    [InlineData("-data", "start and end")]
    [InlineData("da--ta", "'--'")]
    public void Container_names_follow_azure_rules(string name, string expected)
    {
        var result = new AzureBlobStoreOptionsValidator().Validate(null,
            new AzureBlobStoreOptions { ConnectionString = "UseDevelopmentStorage=true", ContainerName = name });
        Assert.Contains($"ContainerName '{name}'", result.FailureMessage);
        Assert.Contains(expected, result.FailureMessage);
    }

    [Fact]
    public void Connection_string_and_service_uri_are_exclusive()
    {
        var result = new AzureBlobStoreOptionsValidator().Validate(null, new AzureBlobStoreOptions
        {
            ConnectionString = "UseDevelopmentStorage=true",
            ServiceUri = new Uri("https://account.blob.core.windows.net"),
        });
        Assert.Contains("exactly one of ConnectionString and ServiceUri", result.FailureMessage);
    }

    [Fact]
    public void Resilience_options_name_each_bad_field()
    {
        var result = new ObjectStoreResilienceOptionsValidator().Validate(null, new ObjectStoreResilienceOptions
        {
            MaxRetryAttempts = -1,
            BaseDelay = TimeSpan.FromSeconds(5),
            MaxDelay = TimeSpan.FromSeconds(1),
            AttemptTimeout = TimeSpan.Zero,
        });
        Assert.Contains("MaxRetryAttempts", result.FailureMessage);
        Assert.Contains("MaxDelay", result.FailureMessage);
        Assert.Contains("AttemptTimeout", result.FailureMessage);
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        Assert.True(new ObjectStoreResilienceOptionsValidator().Validate(null, new ObjectStoreResilienceOptions()).Succeeded);
        Assert.True(new LocalFolderStoreOptionsValidator().Validate(null, new LocalFolderStoreOptions()).Succeeded);
    }

    [Fact]
    public void Stores_built_without_di_are_resilient()
    {
        using var root = new TempDirectory("factory");
        Assert.IsType<LocalFolderStore>(LocalFolderStore.Create(root.Path).Inner);
        var azure = AzureBlobStore.Create("UseDevelopmentStorage=true", "curation");
        Assert.IsType<AzureBlobStore>(azure.Inner);
        Assert.Throws<OptionsValidationException>(() => AzureBlobStore.Create("UseDevelopmentStorage=true", "No"));
    }

    [Fact]
    public void An_az_path_without_an_azure_account_names_the_setting_that_configures_one()
    {
        using var root = new TempDirectory("no-azure");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root.Path });

        var error = Assert.Throws<InvalidOperationException>(() => stores.Resolve(StoreLocation.Parse("az://curated/dedup")));
        // The key the silo reads (it said Curation:Azure:ConnectionString, a key no configuration has).
        Assert.Contains($"{CurationStoreOptions.Section}:{nameof(CurationStoreOptions.ConnectionString)}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Curation__Store__ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("az://curated/dedup", error.Message, StringComparison.Ordinal);
    }
}
