using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>Everything a task of one job needs, loaded from the data store by job id.</summary>
public sealed class JobContext
{
    private JobContext(JobSpec spec, JobPlan plan, IStoreResolver stores)
    {
        Spec = spec;
        Plan = plan;
        Stores = stores;
        Layout = new JobLayout(plan.JobId);
        Stages = StageCatalog.Build(spec);
        OutputLocation = StoreLocation.Parse(spec.Output.Path);
    }

    public string JobId => Plan.JobId;
    public JobSpec Spec { get; }
    public JobPlan Plan { get; }
    public JobLayout Layout { get; }
    public IStoreResolver Stores { get; }
    public IObjectStore Data => Stores.DataStore;
    public IReadOnlyList<PipelineStage> Stages { get; }
    public StoreLocation OutputLocation { get; }
    public IObjectStore Output => Stores.Resolve(OutputLocation);

    /// <summary>
    /// The job id of a spec: its name plus a hash of its canonical JSON, so submitting the same spec again resumes
    /// the same job (finished tasks are found in the store) and a changed spec is a new job. The stages' output
    /// format version is part of the hash, so a release that changes what a stage writes never reuses older outputs.
    /// </summary>
    public static string JobIdOf(JobSpec spec)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{StageCatalog.OutputFormatVersion}\n{spec.ToJson()}"));
        return $"{spec.Name}-{Convert.ToHexStringLower(hash)[..10]}";
    }

    /// <summary>
    /// Creates the job's work folder (spec + plan, each written once) or, when it exists, loads it: the way both a
    /// new job and a resumed one start.
    /// </summary>
    public static async Task<JobContext> CreateOrLoadAsync(JobSpec spec, IStoreResolver stores, CancellationToken cancellationToken = default,
        JobLimits? limits = null)
    {
        limits ??= JobLimits.Default;
        JobSpecValidator.ThrowIfInvalid(spec, limits, stores.DataStore.Location);
        var jobId = JobIdOf(spec);
        var layout = new JobLayout(jobId);
        await stores.DataStore.CreateOnceAsync(layout.SpecKey,
            (s, ct) => s.WriteAsync(Encoding.UTF8.GetBytes(spec.ToJson()), ct).AsTask(), cancellationToken).ConfigureAwait(false);

        var (plan, _) = await stores.DataStore.TryReadJsonAsync<JobPlan>(layout.PlanKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (plan is null)
        {
            var planned = await JobPlanner.PlanAsync(jobId, spec, stores, cancellationToken).ConfigureAwait(false);
            // Now that the shards are known: the tasks the job implies, before anything is dispatched.
            var overBudget = JobBudget.Check(spec, planned, limits);
            if (overBudget.Count > 0) throw new JobSpecException(overBudget);
            try
            {
                await stores.DataStore.WriteJsonAsync(layout.PlanKey, planned, WriteCondition.CreateOnly, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectAlreadyExistsException)
            {
                // A concurrent planner won the create-once race; everyone uses the stored plan.
            }
            (plan, _) = await stores.DataStore.TryReadJsonAsync<JobPlan>(layout.PlanKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        return new JobContext(spec, plan ?? throw new InvalidOperationException($"{layout.PlanKey} vanished after it was written."), stores);
    }

    /// <summary>Loads an existing job's context (workers do this, once per job per silo).</summary>
    public static async Task<JobContext> LoadAsync(string jobId, IStoreResolver stores, CancellationToken cancellationToken = default)
    {
        var layout = new JobLayout(jobId);
        var specJson = Encoding.UTF8.GetString(await stores.DataStore.ReadBytesAsync(layout.SpecKey, cancellationToken).ConfigureAwait(false));
        var (plan, _) = await stores.DataStore.TryReadJsonAsync<JobPlan>(layout.PlanKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new JobContext(JobSpec.Parse(specJson), plan ?? throw new InvalidOperationException($"Job {jobId} has no plan yet."), stores);
    }

    /// <summary>For a versioned corpus: the snapshot this job writes and its base (fixed at plan time); null for a plain output.</summary>
    public RefreshPlan? Refresh => Plan.Refresh;

    private Task<Manifest?>? _baseManifest;

    /// <summary>The base snapshot's manifest (null for a plain output or the first snapshot); read once per context.</summary>
    public Task<Manifest?> BaseManifestAsync(CancellationToken cancellationToken = default) =>
        _baseManifest ??= LoadBaseManifestAsync(cancellationToken);

    private async Task<Manifest?> LoadBaseManifestAsync(CancellationToken cancellationToken)
    {
        if (Refresh?.BaseManifest is not { } key) return null;
        return await CorpusSnapshots.ReadManifestAsync(Output, OutputLocation.Prefix, key, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{Output.Location}/{OutputLocation.KeyOf(key)}: the base snapshot of job {JobId} is gone.");
    }

    /// <summary>
    /// The base snapshot's index partitions of one stage (by stage folder) and index name, by partition; empty when
    /// there is no base. A base without them, or with another partition count, means the corpus' dedup settings
    /// changed, which a refresh cannot honour: it fails naming the stage.
    /// </summary>
    public async Task<IReadOnlyList<SnapshotIndex>> BaseIndexAsync(string stageFolder, string name, int partitions, CancellationToken cancellationToken)
    {
        var manifest = await BaseManifestAsync(cancellationToken).ConfigureAwait(false);
        if (manifest is null) return [];
        var found = manifest.Snapshot!.Indexes.Where(i => i.Stage == stageFolder && i.Name == name).OrderBy(i => i.Partition).ToArray();
        if (found.Length != partitions || found.Where((index, p) => index.Partition != p).Any())
            throw new InvalidOperationException(
                $"{stageFolder}: the base snapshot {Refresh!.BaseSnapshot} has {found.Length} '{name}' index partitions, this job has {partitions}: " +
                "the stages or their partitions changed since the corpus was created; a refresh needs the same dedup settings (start a new corpus instead).");
        return found;
    }

    /// <summary>The key of the manifest this job writes in the output store: inside its snapshot's folder for a versioned corpus.</summary>
    public string ManifestKey => OutputLocation.KeyOf(Refresh is { } refresh ? $"{refresh.Folder}/{Manifest.FileName}" : Manifest.FileName);

    /// <summary>Key in the output store of an object relative to the corpus root.</summary>
    public string OutputKeyOf(string relative) => OutputLocation.KeyOf(relative);

    /// <summary>
    /// The committed stats of the first <paramref name="tasks"/> tasks of a stage's phase, in task order: what reports and the
    /// manifest sum up. A task without stats has not finished: it fails naming the first such task (the phase must have run).
    /// The objects are read <see cref="StatsReadsInFlight"/> at a time: one round trip each on a blob store, where a phase of
    /// a thousand shards read one after another made the manifest wait seconds.
    /// </summary>
    public async Task<IReadOnlyList<TaskStats>> PhaseStatsAsync(PipelineStage stage, string phase, int tasks, CancellationToken cancellationToken)
    {
        var read = new TaskStats?[tasks];
        await Parallel.ForAsync(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = StatsReadsInFlight, CancellationToken = cancellationToken },
            async (t, ct) => (read[t], _) = await Data.TryReadJsonAsync<TaskStats>(Layout.TaskStats(stage.Index, stage.Name, phase, t), cancellationToken: ct)
                .ConfigureAwait(false)).ConfigureAwait(false);
        var stats = new TaskStats[tasks];
        for (var t = 0; t < tasks; t++)
            stats[t] = read[t] ?? throw new InvalidOperationException($"{stage}/{phase} task {t} has not finished; its stats are not there yet.");
        return stats;
    }

    /// <summary>Stats objects <see cref="PhaseStatsAsync"/> reads at once.</summary>
    public const int StatsReadsInFlight = 16;

    /// <summary>Every task of the job, phase by phase: what a coordinator dispatches.</summary>
    public IEnumerable<(PipelineStage Stage, PhaseInfo Phase)> Phases() =>
        Stages.SelectMany(stage => stage.Phases(Plan).Select(phase => (stage, phase)));
}
