using System.Collections.Concurrent;
using System.Text.Json;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Curation.Grains.Tests;

/// <summary>
/// The pii stage's promise that no found value is ever logged, checked where the logs really go: every message the
/// silo's <see cref="ILogger"/>s write at every level (Trace and up: Orleans, Curation, the job, its stages), with its
/// exception and structured state, while a job redacts a corpus with planted personal data of every type.
/// </summary>
public sealed class PiiLogTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("pii-logs");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(PiiMode.Redact)]
    [InlineData(PiiMode.Drop)]
    public async Task No_planted_value_reaches_any_silo_log_at_any_level(PiiMode mode)
    {
        var corpus = PiiCorpus.Generate(200, seed: 23);
        var input = _temp.Combine("in");
        Directory.CreateDirectory(input);
        File.WriteAllLines(Path.Combine(input, "part.jsonl"),
            corpus.Documents.Select(d => JsonSerializer.Serialize(new { id = d.Id, language = d.Language, text = d.Text })));
        var spec = new JobSpec
        {
            Name = $"pii-logs-{mode}", Inputs = [new InputSpec { Path = Path.Combine(input, "*.jsonl"), IdField = "id" }],
            Sharding = new ShardingSpec { TargetShardBytes = 32 * 1024 },
            Stages = [new PiiStageSpec { Mode = mode }], Output = new OutputSpec { Path = "curated/pii" },
        };
        var capture = new CapturingLoggerProvider();
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine($"store-{mode}") });
        await using (var cluster = await CurationCluster.StartAsync(1, () => stores,
            silo: b => b.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(capture))))
        {
            var status = await cluster.RunAsync(spec);
            Assert.Equal(JobState.Completed, status.State);
        }

        var lines = capture.Lines.ToArray();
        var planted = corpus.Documents.SelectMany(d => d.Planted).Select(p => p.Value).Distinct().ToList();
        var leaks = planted.Where(value => lines.Any(line => line.Contains(value, StringComparison.Ordinal))).ToList();
        output.WriteLine($"{mode}: {lines.Length:N0} log messages ({lines.Sum(l => l.Length):N0} characters) at Trace and up; " +
                         $"{planted.Count} planted values, {leaks.Count} found in the logs");
        // The capture saw the job itself (so an empty capture cannot pass), and nothing planted.
        Assert.Contains(lines, line => line.Contains(JobContext.JobIdOf(spec), StringComparison.Ordinal));
        Assert.True(planted.Count >= 150, $"{planted.Count} planted values");
        Assert.Empty(leaks);
    }

    /// <summary>Keeps every message with its exception and its structured state's values.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                lines.Enqueue($"{category} scope {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(' ', pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                lines.Enqueue($"{logLevel} {category} {formatter(state, exception)} {values} {exception}");
            }
        }
    }
}
