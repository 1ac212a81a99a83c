using System.Text.Json;
using Curation.Pipelines;
using Curation.Pipelines.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Curation.Grains.Reminders;

/// <summary>
/// Orleans reminders kept in the data store, one JSON object per reminder under <c>state/reminders/</c>, with
/// ETag-conditional writes. Durable wherever the data store is (a local folder for the embedded silo, blobs for a
/// cluster), so schedules survive silo restarts without an extra service. Range reads list every reminder, which suits
/// the few reminders Curation has (one per schedule).
/// </summary>
public sealed class ObjectStoreReminderTable(IStoreResolver stores) : IReminderTable
{
    public const string Prefix = "state/reminders/";

    private IObjectStore Store => stores.DataStore;

    private sealed record StoredReminder(string GrainId, string Name, DateTime StartAt, TimeSpan Period);

    private static string KeyOf(GrainId grainId, string name) =>
        $"{Prefix}{Uri.EscapeDataString(grainId.ToString())}/{Uri.EscapeDataString(name)}.json";

    public Task Init() => Task.CompletedTask;

    public async Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => await ReadAsync(KeyOf(grainId, reminderName));

    public async Task<ReminderTableData> ReadRows(GrainId grainId)
    {
        var entries = new List<ReminderEntry>();
        await foreach (var info in Store.ListAsync($"{Prefix}{Uri.EscapeDataString(grainId.ToString())}/"))
            if (await ReadAsync(info.Key) is { } entry && entry.GrainId == grainId) entries.Add(entry);
        return new ReminderTableData(entries);
    }

    /// <summary>Reminders whose grain hash is in (begin, end], wrapping around when begin ≥ end (begin = end: all).</summary>
    public async Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        var entries = new List<ReminderEntry>();
        await foreach (var info in Store.ListAsync(Prefix))
        {
            if (!info.Key.EndsWith(".json", StringComparison.Ordinal) || await ReadAsync(info.Key) is not { } entry) continue;
            var hash = entry.GrainId.GetUniformHashCode();
            var inRange = begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
            if (inRange) entries.Add(entry);
        }
        return new ReminderTableData(entries);
    }

    public async Task<string?> UpsertRow(ReminderEntry entry)
    {
        var stored = new StoredReminder(entry.GrainId.ToString(), entry.ReminderName, entry.StartAt, entry.Period);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(stored, CurationJson.Options);
        var info = await Store.WriteBytesAsync(KeyOf(entry.GrainId, entry.ReminderName), bytes, WriteCondition.Overwrite);
        entry.ETag = info.ETag;
        return info.ETag;
    }

    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        var key = KeyOf(grainId, reminderName);
        var info = await Store.GetInfoAsync(key);
        if (info is null || info.ETag != eTag) return false;
        return await Store.DeleteAsync(key);
    }

    public async Task TestOnlyClearTable()
    {
        await foreach (var info in Store.ListAsync(Prefix)) await Store.DeleteAsync(info.Key);
    }

    private async Task<ReminderEntry?> ReadAsync(string key)
    {
        var info = await Store.GetInfoAsync(key);
        if (info is null) return null;
        byte[] bytes;
        try { bytes = await Store.ReadBytesAsync(key); }
        catch (ObjectNotFoundException) { return null; }
        var stored = JsonSerializer.Deserialize<StoredReminder>(bytes, CurationJson.Options);
        if (stored is null) return null;
        return new ReminderEntry
        {
            GrainId = GrainId.Parse(stored.GrainId, System.Globalization.CultureInfo.InvariantCulture), ReminderName = stored.Name, StartAt = stored.StartAt, Period = stored.Period,
            // The ETag of the version read (a write between GetInfo and the read makes a later remove fail, as it should).
            ETag = info.ETag,
        };
    }
}

public static class ObjectStoreReminderExtensions
{
    /// <summary>Reminders in the data store (<see cref="ObjectStoreReminderTable"/>): durable without a table service.</summary>
    public static ISiloBuilder UseObjectStoreReminderService(this ISiloBuilder silo)
    {
        silo.AddReminders();
        silo.Services.AddSingleton<IReminderTable, ObjectStoreReminderTable>();
        return silo;
    }
}
