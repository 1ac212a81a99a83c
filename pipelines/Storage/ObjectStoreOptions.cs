using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.Extensions.Options;

namespace Curation.Pipelines.Storage;

/// <summary>Where the embedded store keeps its objects.</summary>
public sealed class LocalFolderStoreOptions
{
    /// <summary>Root folder; relative paths resolve against the working directory. Created on first write.</summary>
    public string RootPath { get; set; } = "./data";
}

/// <summary>
/// Azure Blob Storage (or Azurite). Give either <see cref="ConnectionString"/> or <see cref="ServiceUri"/>
/// (carrying a SAS token, or with <see cref="Credential"/>), and the container to use; it is created when missing.
/// </summary>
public sealed class AzureBlobStoreOptions
{
    public string? ConnectionString { get; set; }

    public string ContainerName { get; set; } = "curation";

    /// <summary>The account's blob endpoint, e.g. https://account.blob.core.windows.net, when no connection string is given.</summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>Identity used with <see cref="ServiceUri"/>; null means the URI carries its own SAS token.</summary>
    public TokenCredential? Credential { get; set; }

    /// <summary>Bytes fetched per ranged read when streaming a large blob; smaller blobs are read in one request.</summary>
    public int ReadBufferSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// The HTTP transport of the blob clients (code only, never from configuration): e.g. an
    /// <see cref="HttpClientTransport"/> over a custom <see cref="HttpMessageHandler"/> (a proxy, or a fault injector
    /// in tests). Null: the SDK's default. Retries stay with <see cref="ResilientObjectStore"/>, which counts them.
    /// </summary>
    public HttpPipelineTransport? Transport { get; set; }
}

/// <summary>The retry policy every store is wrapped in (see <see cref="ResilientObjectStore"/>).</summary>
public sealed class ObjectStoreResilienceOptions
{
    /// <summary>Retries after the first attempt; 0 turns retries off.</summary>
    public int MaxRetryAttempts { get; set; } = 6;

    /// <summary>First backoff delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Limit of one attempt of a metadata call, delete, open or listing page, and of each HTTP request to Azure.
    /// A whole write is not limited by it: its producer may legitimately run for minutes.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(100);
}

public sealed class LocalFolderStoreOptionsValidator : IValidateOptions<LocalFolderStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalFolderStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.RootPath))
            return ValidateOptionsResult.Fail($"{nameof(LocalFolderStoreOptions)}.{nameof(options.RootPath)} is required.");
        if (options.RootPath.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            return ValidateOptionsResult.Fail($"{nameof(LocalFolderStoreOptions)}.{nameof(options.RootPath)} '{options.RootPath}' contains invalid path characters.");
        if (File.Exists(options.RootPath))
            return ValidateOptionsResult.Fail($"{nameof(LocalFolderStoreOptions)}.{nameof(options.RootPath)} '{options.RootPath}' is a file, not a folder.");
        return ValidateOptionsResult.Success;
    }
}

public sealed class AzureBlobStoreOptionsValidator : IValidateOptions<AzureBlobStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureBlobStoreOptions options)
    {
        const string type = nameof(AzureBlobStoreOptions);
        var failures = new List<string>();
        var hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        if (hasConnectionString == (options.ServiceUri is not null))
            failures.Add($"{type}: set exactly one of {nameof(options.ConnectionString)} and {nameof(options.ServiceUri)}.");
        if (options.ServiceUri is { } uri && !(uri.IsAbsoluteUri && uri.Scheme is "https" or "http"))
            failures.Add($"{type}.{nameof(options.ServiceUri)} '{options.ServiceUri}' must be an absolute http(s) URI.");
        if (options.Credential is not null && options.ServiceUri is null)
            failures.Add($"{type}.{nameof(options.Credential)} is only used with {nameof(options.ServiceUri)}.");
        if (ContainerNameProblem(options.ContainerName) is { } problem)
            failures.Add($"{type}.{nameof(options.ContainerName)} '{options.ContainerName}' {problem}.");
        if (options.ReadBufferSize is < 64 * 1024 or > 256 * 1024 * 1024)
            failures.Add($"{type}.{nameof(options.ReadBufferSize)} {options.ReadBufferSize} must be between 64 KiB and 256 MiB.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Azure's container naming rules, checked here so a typo fails at start-up rather than on first write.</summary>
    internal static string? ContainerNameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "is required";
        if (name.Length is < 3 or > 63) return "must be 3 to 63 characters long";
        if (name.Any(c => c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')))
            return "may hold only lowercase letters, digits and '-'";
        if (name[0] == '-' || name[^1] == '-' || name.Contains("--", StringComparison.Ordinal))
            return "must start and end with a letter or digit and have no '--'";
        return null;
    }
}

public sealed class ObjectStoreResilienceOptionsValidator : IValidateOptions<ObjectStoreResilienceOptions>
{
    // Polly's own bounds for its retry and timeout strategies.
    private static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxSpan = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, ObjectStoreResilienceOptions options)
    {
        const string type = nameof(ObjectStoreResilienceOptions);
        var failures = new List<string>();
        if (options.MaxRetryAttempts is < 0 or > 100)
            failures.Add($"{type}.{nameof(options.MaxRetryAttempts)} {options.MaxRetryAttempts} must be between 0 and 100.");
        if (options.BaseDelay < TimeSpan.Zero || options.BaseDelay > MaxSpan)
            failures.Add($"{type}.{nameof(options.BaseDelay)} {options.BaseDelay} must be between 0 and 1 day.");
        if (options.MaxDelay < options.BaseDelay || options.MaxDelay > MaxSpan)
            failures.Add($"{type}.{nameof(options.MaxDelay)} {options.MaxDelay} must be at least {nameof(options.BaseDelay)} and at most 1 day.");
        if (options.AttemptTimeout < MinTimeout || options.AttemptTimeout > MaxSpan)
            failures.Add($"{type}.{nameof(options.AttemptTimeout)} {options.AttemptTimeout} must be between 10 ms and 1 day.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal static class OptionsCheck
{
    /// <summary>Runs a validator outside DI (the CLI and tests build stores directly) and throws what DI would throw.</summary>
    public static T ThrowIfInvalid<T>(this IValidateOptions<T> validator, T options) where T : class
    {
        var result = validator.Validate(Options.DefaultName, options);
        if (result.Failed) throw new OptionsValidationException(Options.DefaultName, typeof(T), result.Failures);
        return options;
    }
}
