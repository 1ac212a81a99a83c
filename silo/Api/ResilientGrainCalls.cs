using Curation.Grains;

namespace Curation.Silo.Api;

/// <summary>
/// The API's grain calls ride over a silo's death: a call that failed because a silo died or could not be reached is
/// made again (with backoff) until the cluster's membership has decided about that silo, for at most
/// <see cref="Limit"/>. Every call the API makes is safe to repeat (status reads, cancel, and submit, which is
/// idempotent by job id).
/// </summary>
public static class ResilientGrainCalls
{
    /// <summary>How long one request keeps trying (membership declares a dead silo dead well within it).</summary>
    public static TimeSpan Limit { get; set; } = TimeSpan.FromSeconds(60);

    public static async Task<T> CallAsync<T>(Func<Task<T>> call, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var started = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (SiloLoss.Is(e) && DateTime.UtcNow - started < Limit && !cancellationToken.IsCancellationRequested)
            {
                logger?.LogWarning("A grain call failed because a silo left the cluster or cannot be reached; calling again: {Error}", e.Message);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }
}
