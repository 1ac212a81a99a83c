using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Curation.Grains;
using Curation.Silo.Api;
using Curation.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Curation.Silo.Tests;

/// <summary>
/// A real <c>curate silo</c> host (Orleans silo + REST API + dashboard) on free loopback ports over a temporary data
/// store, with one operator and one viewer key, capturing every log line it writes.
/// </summary>
public sealed class TestApiHost : IAsyncDisposable
{
    public const string OperatorKey = "op-test-key-7f3a9c1e5b2d4f60";
    public const string ViewerKey = "view-test-key-2b8e6d4a0c9f1e37";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private TestApiHost(WebApplication app, string dataRoot, string url, LogCapture logs)
    {
        App = app;
        DataRoot = dataRoot;
        Url = url;
        Logs = logs;
    }

    public WebApplication App { get; }
    public string DataRoot { get; }
    public string Url { get; }
    public LogCapture Logs { get; }

    /// <param name="dataRoot">The data store folder (kept across hosts for restart tests).</param>
    /// <param name="allowedRoot">The one local folder submitted jobs may use.</param>
    public static async Task<TestApiHost> StartAsync(string dataRoot, string allowedRoot, IDictionary<string, string?>? extra = null)
    {
        var ports = Curation.Grains.Hosting.LoopbackPorts.Free(3);
        var url = $"http://127.0.0.1:{ports[0]}";
        var overrides = new Dictionary<string, string?>
        {
            ["Curation:Cluster:SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Curation:Cluster:GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Curation:Cluster:ClusterId"] = "api-test-" + Guid.NewGuid().ToString("N")[..8],
            ["Curation:Store:Kind"] = "LocalFolder",
            ["Curation:Store:RootPath"] = dataRoot,
            ["Curation:Execution:RetryDelay"] = "00:00:00.200",
            ["Curation:Execution:ResumeScanInterval"] = "00:00:01",
            ["Curation:Api:Urls"] = url,
            ["Curation:Api:Keys:0:Key"] = OperatorKey,
            ["Curation:Api:Keys:0:Role"] = "operator",
            ["Curation:Api:Keys:0:Name"] = "test-operator",
            ["Curation:Api:Keys:1:Key"] = ViewerKey,
            ["Curation:Api:Keys:1:Role"] = "viewer",
            ["Curation:Api:AllowedRoots:0"] = allowedRoot,
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Orleans"] = "Information",
            ["Logging:LogLevel:Microsoft"] = "Trace",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) overrides[k] = v;
        var logs = new LogCapture();
        var app = ApiHost.Create([], overrides, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync();
        return new TestApiHost(app, dataRoot, url, logs);
    }

    public HttpClient Client(string? key = OperatorKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    /// <summary>Polls GET /api/jobs/{id} until the job is final.</summary>
    public async Task<JobView> WaitAsync(string jobId, TimeSpan? timeout = null)
    {
        using var client = Client(ViewerKey);
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        while (true)
        {
            var view = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{jobId}", Json, deadline.Token))!;
            if (view.State is JobState.Completed or JobState.Failed or JobState.Cancelled) return view;
            await Task.Delay(100, deadline.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try { await App.StopAsync(timeout.Token); } catch (OperationCanceledException) { }
        await App.DisposeAsync();
    }
}

/// <summary>Every log line (message and exception), at every level.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose() { }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}" +
                (state is IEnumerable<KeyValuePair<string, object?>> values ? " " + string.Join(" ", values.Select(v => $"{v.Key}={v.Value}")) : ""));
    }
}

/// <summary>A small corpus (exact duplicates, one low-quality document, one holding markup) and a job spec over it.</summary>
public sealed class SmallJob
{
    public const string ScriptText = "Beware of <script>alert('xss')</script> markup in documents, it must be shown as text.";

    public SmallJob(string folder, string name = "api", int originals = 40, int copies = 10, int files = 4)
    {
        Folder = folder;
        Name = name;
        var corpus = TestCorpus.Generate(originals, copies);
        corpus.Documents.Insert(0, ("doc-script", ScriptText));
        corpus.Documents.Add(("doc-short", "too short"));
        corpus.WriteJsonl(Path.Combine(folder, "corpus"), files);
    }

    public string Folder { get; }
    public string Name { get; }

    /// <param name="semantic">Also embed (shipped model, CPU) and run semantic_dedup, whose report feeds the dashboard's histograms.</param>
    /// <param name="snapshots">Write a versioned corpus (output.snapshots) instead of a plain output.</param>
    public string SpecJson(string? output = null, int targetShardBytes = 2048, bool semantic = false, bool snapshots = false) => JsonSerializer.Serialize(new
    {
        name = Name,
        seed = 42,
        inputs = new[] { new { path = Path.Combine(Folder, "corpus", "*.jsonl"), format = "jsonl", idField = "id" } },
        sharding = new { targetShardBytes },
        stages = new object[]
        {
            new { type = "normalize" },
            new { type = "quality_filter", minChars = 20, minWords = 3 },
            new { type = "exact_dedup", partitions = 2 },
        }.Concat(semantic
            ? [new { type = "embed" }, new { type = "semantic_dedup", clusters = 3, maxIterations = 5, eps = 0.05, partitions = 2 }]
            : Array.Empty<object>()).ToArray(),
        output = snapshots ? (object)new { path = output ?? "curated/" + Name, snapshots = true } : new { path = output ?? "curated/" + Name },
    });

    public static StringContent Body(string json) => new(json, System.Text.Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
}
