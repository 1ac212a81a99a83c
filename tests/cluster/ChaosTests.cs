using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Curation.Grains.Hosting;
using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Xunit.Abstractions;

namespace Curation.Cluster.Tests;

/// <summary>
/// Random moments: on a cluster of 3 <c>curate silo</c> processes (Redis membership, shared local data store), each
/// trial submits a job through a live silo's REST API and SIGKILLs one silo, chosen at random, at a moment drawn
/// uniformly from "just before the submission" to "the end of a clean run"; half the time a new silo is started a
/// moment later. Every job must complete without being submitted again, with output identical to an uninterrupted
/// in-process run, nothing lost, nothing doubled, and no API answer of 500. Seeded (<c>CURATION_CHAOS_SEED</c>;
/// printed), <c>CURATION_CHAOS_TRIALS</c> trials (5 in CI; deploy/chaos.sh runs 30+).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ChaosTests(ClusterServices services, ITestOutputHelper output) : IDisposable
{
    public const string SeedVariable = "CURATION_CHAOS_SEED";
    public const string TrialsVariable = "CURATION_CHAOS_TRIALS";
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    private readonly TempDirectory _temp = new("chaos");

    public void Dispose() => _temp.Dispose();

    private JobSpec Spec(string corpus, string name) => new()
    {
        Name = name,
        Inputs = [new InputSpec { Path = Path.Combine(corpus, "*.jsonl"), IdField = "id" }],
        Sharding = new ShardingSpec { TargetShardBytes = 16 * 1024 },
        Stages =
        [
            new NormalizeStageSpec(), new QualityFilterStageSpec { MinChars = 10, MinWords = 2 }, new ExactDedupStageSpec { Partitions = 6 },
            new NearDedupStageSpec { Partitions = 2, MaxRounds = 12 },
        ],
        Output = new OutputSpec { Path = $"curated/{name}" },
    };

    private void Say(string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line); // deploy/chaos.sh shows it live
    }

    [Fact]
    public async Task Jobs_survive_a_silo_killed_at_random_moments()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next(1_000_000);
        var trials = int.TryParse(Environment.GetEnvironmentVariable(TrialsVariable), CultureInfo.InvariantCulture, out var t) ? t : 5;
        var random = new Random(seed);
        Say($"chaos seed {seed} ({SeedVariable}={seed} repeats these choices), {trials} trials");

        var corpus = _temp.Combine("corpus");
        TestCorpus.Generate(originals: 1600, copies: 320, seed: 17).WriteJsonl(corpus, files: 16);
        var small = _temp.Combine("warm-up");
        TestCorpus.Generate(originals: 60, copies: 10, seed: 17).WriteJsonl(small, files: 4);
        var data = _temp.Combine("data");
        var store = new StoreSettings("LocalFolder", RootPath: data);
        var clock = Stopwatch.StartNew();
        await using var cluster = await ProcessCluster.StartAsync(services, ClusteringKind.Redis, store, silos: 3,
            environment: new Dictionary<string, string> { ["Curation__Api__AllowedRoots__0"] = _temp.Path });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Add("X-Api-Key", ProcessCluster.OperatorKey);
        var api = new ChaosApi(cluster, http, random);
        Say($"3 silos up in {clock.Elapsed.TotalSeconds:F1} s");

        // A small job warms every silo up (JIT), then a clean run measures how long a job takes, so that kill moments cover all of it.
        var warmUp = await api.WaitAsync(await api.SubmitAsync(Spec(small, "chaos-warm-up")), JobTimeout);
        Assert.True(warmUp.State == "Completed", $"warm-up: {warmUp.State}: {warmUp.Error}\n{cluster.Diagnostics()}");
        var clean = Stopwatch.StartNew();
        var cleanId = await api.SubmitAsync(Spec(corpus, "chaos-clean"));
        var cleanState = await api.WaitAsync(cleanId, JobTimeout);
        Assert.True(cleanState.State == "Completed", $"clean run: {cleanState.State}: {cleanState.Error}\n{cluster.Diagnostics()}");
        var duration = clean.Elapsed.TotalSeconds;
        Say($"clean run: {duration:F1} s");

        var (completed, identical, lost, doubled) = (0, 0, 0, 0);
        var failures = new List<string>();
        for (var trial = 1; trial <= trials; trial++)
        {
            // Every choice of the trial is drawn up front, from the seed alone.
            var moment = -1.5 + random.NextDouble() * (duration + 1.5); // seconds after the submission; < 0: before it
            var live = Enumerable.Range(0, cluster.Silos.Count).Where(i => !cluster.Silos[i].HasExited).ToList();
            var victim = live[random.Next(live.Count)];
            var restart = random.Next(2) == 0;
            var restartAfter = random.NextDouble() * 3;
            var name = $"chaos-{seed}-{trial}";
            var spec = Spec(corpus, name);
            var started = Stopwatch.StartNew();
            Task? restarting = null;
            void Kill()
            {
                cluster.Silos[victim].Kill();
                if (restart) restarting = Task.Delay(TimeSpan.FromSeconds(restartAfter)).ContinueWith(_ => cluster.StartSiloAsync()).Unwrap();
            }

            string jobId;
            if (moment < 0)
            {
                Kill();
                await Task.Delay(TimeSpan.FromSeconds(-moment));
                jobId = await api.SubmitAsync(spec);
            }
            else
            {
                jobId = await api.SubmitAsync(spec);
                await Task.Delay(TimeSpan.FromSeconds(moment));
                Kill();
            }
            var final = await api.WaitAsync(jobId, JobTimeout);
            if (restarting is not null) await restarting;
            var line = $"trial {trial}: killed silo-{victim} {(moment < 0 ? "" : "+")}{moment:F1} s after submitting{(restart ? $", restarted {restartAfter:F1} s later" : ", not restarted")}: " +
                       $"{final.State} after {started.Elapsed.TotalSeconds:F1} s";
            if (final.State == "Completed")
            {
                completed++;
                var (same, missing, twice, why) = await CompareAsync(spec, data);
                if (same) identical++;
                lost += missing;
                doubled += twice;
                line += same ? ", identical output" : $", DIFFERENT output: {why}";
                if (!same) failures.Add($"trial {trial}: {why}");
            }
            else
            {
                failures.Add($"trial {trial}: {final.State}: {final.Error}");
                line += $": {final.Error}";
            }
            Say(line);
            // The next trial starts from 3 live silos again.
            while (cluster.Silos.Count(p => !p.HasExited) < 3) await cluster.StartSiloAsync();
        }

        Say($"trials {trials}, completed without resubmission {completed}, identical output {identical}, lost {lost}, doubled {doubled}");
        Say($"API answers: {api.Describe()}");
        Assert.True(failures.Count == 0, $"seed {seed}: {string.Join("\n", failures)}\n{cluster.Diagnostics()}");
        Assert.Equal(0, api.ServerErrors);
        Assert.Equal(trials, completed);
        Assert.Equal(trials, identical);
    }

    /// <summary>The cluster's output against the same job run uninterrupted in this process.</summary>
    private async Task<(bool Same, int Lost, int Doubled, string Why)> CompareAsync(JobSpec spec, string data)
    {
        var referenceStores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = _temp.Combine("reference-" + spec.Name) });
        using (var stageServices = StageServices.CreateDefault()) await InProcessJob.RunAsync(spec, referenceStores, stageServices);
        var reference = await CuratedOutput.ReadAsync(referenceStores.DataStore, spec.Output.Path);
        var actual = await CuratedOutput.ReadAsync(CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = data }).DataStore,
            spec.Output.Path);
        var lost = reference.KeptIds.Except(actual.KeptIds, StringComparer.Ordinal).Count();
        var doubled = actual.KeptIds.Count - actual.KeptIds.Distinct(StringComparer.Ordinal).Count();
        var why = new List<string>();
        if (lost > 0) why.Add($"{lost} kept documents lost");
        if (doubled > 0) why.Add($"{doubled} documents doubled");
        if (!reference.KeptIds.Order(StringComparer.Ordinal).SequenceEqual(actual.KeptIds.Order(StringComparer.Ordinal), StringComparer.Ordinal)) why.Add("kept ids differ");
        if (!reference.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal).SequenceEqual(actual.ShardHashes.OrderBy(h => h.Key, StringComparer.Ordinal)))
            why.Add("shard SHA-256s differ");
        if (!reference.Drops.SequenceEqual(actual.Drops)) why.Add("drops differ");
        if (actual.Manifest.Accounting.Imbalances().Any()) why.Add("books do not balance");
        return (why.Count == 0, lost, doubled, string.Join(", ", why));
    }

    /// <summary>The REST API of whichever silos are alive: requests go to a random live silo and move on when it is gone.</summary>
    private sealed class ChaosApi(ProcessCluster cluster, HttpClient http, Random random)
    {
        private readonly Dictionary<string, int> _answers = [];

        public int ServerErrors { get; private set; }

        public string Describe() => string.Join(", ", _answers.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} ×{a.Value}"));

        private string LiveUrl()
        {
            var live = Enumerable.Range(0, cluster.Silos.Count).Where(i => !cluster.Silos[i].HasExited).ToList();
            return cluster.ApiUrls[live[random.Next(live.Count)]];
        }

        private void Count(string answer)
        {
            lock (_answers) _answers[answer] = _answers.GetValueOrDefault(answer) + 1;
        }

        /// <summary>Sends until a silo answers something other than 503 (a 500 is counted as a server error).</summary>
        private async Task<(HttpStatusCode Status, string Body)> SendAsync(Func<string, HttpRequestMessage> request, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var url = LiveUrl();
                try
                {
                    using var response = await http.SendAsync(request(url));
                    var body = await response.Content.ReadAsStringAsync();
                    Count(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture));
                    if ((int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.ServiceUnavailable) ServerErrors++;
                    if (response.StatusCode != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline) return (response.StatusCode, body);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
                {
                    Count("no connection"); // the silo died between choosing it and asking it
                }
                await Task.Delay(250);
            }
        }

        public async Task<string> SubmitAsync(JobSpec spec)
        {
            var (status, body) = await SendAsync(url => new HttpRequestMessage(HttpMethod.Post, $"{url}/api/jobs")
            {
                Content = new StringContent(spec.ToJson(), Encoding.UTF8, "application/json"),
            }, TimeSpan.FromMinutes(2));
            Assert.True(status == HttpStatusCode.Accepted, $"submit: {(int)status} {body}");
            return JobContext.JobIdOf(spec);
        }

        public async Task<(string State, string? Error)> WaitAsync(string jobId, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            var last = "";
            while (DateTime.UtcNow < deadline)
            {
                var (status, body) = await SendAsync(url => new HttpRequestMessage(HttpMethod.Get, $"{url}/api/jobs/{Uri.EscapeDataString(jobId)}"), TimeSpan.FromMinutes(2));
                last = body;
                if (status == HttpStatusCode.OK)
                {
                    using var document = JsonDocument.Parse(body);
                    var state = document.RootElement.GetProperty("state").GetString()!;
                    if (state is "Completed" or "Failed" or "Cancelled")
                        return (state, document.RootElement.TryGetProperty("error", out var error) ? error.GetString() : null);
                }
                await Task.Delay(250);
            }
            return ("TimedOut", $"not final after {timeout}: {last}\n{cluster.Diagnostics()}");
        }
    }
}
