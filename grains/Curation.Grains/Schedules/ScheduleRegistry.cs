using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Storage;

namespace Curation.Grains.Schedules;

/// <summary>The schedules the cluster knows: the schedule grains' persisted state in the data store (<c>state/schedule/*.json</c>).</summary>
public static class ScheduleRegistry
{
    public static string StatePrefix => $"state/{ScheduleGrain.StateName}/";

    /// <summary>Ids of every stored schedule, in key order.</summary>
    public static async Task<IReadOnlyList<string>> IdsAsync(IObjectStore store, CancellationToken cancellationToken = default)
    {
        var ids = new List<string>();
        await foreach (var info in store.ListAsync(StatePrefix, cancellationToken).ConfigureAwait(false))
            if (info.Key.EndsWith(".json", StringComparison.Ordinal) && !info.Key[StatePrefix.Length..].Contains('/'))
                ids.Add(Uri.UnescapeDataString(Path.GetFileNameWithoutExtension(info.Key)));
        return ids.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A schedule's state as last written, or null.</summary>
    public static async Task<ScheduleGrainState?> ReadAsync(IObjectStore store, string id, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await store.ReadBytesAsync($"{StatePrefix}{Uri.EscapeDataString(id)}.json", cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize<ScheduleGrainState>(bytes, CurationJson.Options);
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }
}
