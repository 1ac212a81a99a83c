using System.Security.Cryptography;
using System.Text;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Storage;

namespace Curation.Pipelines.Execution;

/// <summary>
/// One running job per output folder. Each run of a job claims its output folder first (<c>state/outputs/{hash}.json</c> in
/// the data store, naming the job): a claim held by another job that is still running refuses the run before anything
/// is planned. Two jobs of different specs (or two refreshes of one corpus) started together into one output path both
/// ran every stage, and the second found out at its manifest, failing four times. A claim whose job has ended
/// (completed, failed, cancelled) is taken over; what a completed job left there is refused by the planner as before.
/// </summary>
public static class OutputClaim
{
    /// <summary>The data store folder of the claims.</summary>
    public const string Folder = "state/outputs/";

    /// <summary>A claim: the job whose run writes the output folder.</summary>
    public sealed record Claim(string JobId, string Output);

    /// <summary>The claim object of an output folder (its store's location and key prefix).</summary>
    public static string KeyOf(string output) =>
        Folder + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(output)))[..32] + ".json";

    /// <summary>The output folder a spec writes, as one string: its store's location and key prefix.</summary>
    public static string OutputOf(JobSpec spec, IStoreResolver stores)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(stores);
        var location = StoreLocation.Parse(spec.Output.Path);
        return $"{stores.Resolve(location).Location.TrimEnd('/')}/{location.Prefix.TrimEnd('/')}";
    }

    /// <summary>
    /// Claims the spec's output folder for job <paramref name="jobId"/> (a claim it holds already is kept).
    /// </summary>
    /// <param name="isRunning">Whether a job (by id) is running now: its stored state says so.</param>
    /// <exception cref="JobSpecException">Another job that is running holds the output folder.</exception>
    public static async Task ClaimAsync(JobSpec spec, string jobId, IStoreResolver stores, Func<string, CancellationToken, Task<bool>> isRunning,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(isRunning);
        var output = OutputOf(spec, stores);
        var key = KeyOf(output);
        var data = stores.DataStore;
        // A lost race (another run claimed between the read and the write) reads the claim again: at most a few rounds.
        for (var round = 0; ; round++)
        {
            var (claim, info) = await data.TryReadJsonAsync<Claim>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (claim?.JobId == jobId) return;
            if (claim is not null && await isRunning(claim.JobId, cancellationToken).ConfigureAwait(false))
                throw new JobSpecException([new SpecError("output.path",
                    $"{output} is being written by job {claim.JobId}, which is running: two jobs never write one output folder; wait for it to " +
                    $"finish or cancel it (curate cancel {claim.JobId}), or choose another output.path")]);
            try
            {
                await data.WriteJsonAsync(key, new Claim(jobId, output), claim is null ? WriteCondition.CreateOnly : WriteCondition.IfMatch(info!.ETag),
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is ObjectAlreadyExistsException or ObjectModifiedException && round < 4)
            {
            }
        }
    }
}
