namespace Curation.Grains;

/// <summary>
/// Recognises a grain call that failed because a silo died or could not be reached (the call never ran, or ran on a
/// silo that is gone), as opposed to a call whose work failed. Such a failure is fixed by calling again once the
/// cluster's membership has decided about that silo: the coordinator, the API and clients retry it.
/// </summary>
public static class SiloLoss
{
    // Matched by name: some of these types are internal to Orleans' messaging layer.
    private static readonly HashSet<string> TypeNames = new(StringComparer.Ordinal)
    {
        "SiloUnavailableException",          // the target silo was declared dead while the call waited
        "OrleansMessageRejectionException",  // "Exception while sending message": the connection to the silo failed
        "ConnectionFailedException",         // Orleans.Runtime.Messaging: unable to connect to the silo
        "ConnectionAbortedException",        // the connection broke mid-call
        "GatewayTooBusyException",
        "ClientNotAvailableException",
        "OrleansLifecycleCanceledException", // the target silo is shutting down
    };

    /// <summary>True when <paramref name="e"/> (or an exception inside it) says a silo left or cannot be reached.</summary>
    public static bool Is(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (TypeNames.Contains(current.GetType().Name)) return true;
            if (current is AggregateException aggregate && aggregate.InnerExceptions.Any(Is)) return true;
        }
        return false;
    }

    /// <summary>One sentence for a user: what happened and that the work continues.</summary>
    public static string Explain(Exception e) =>
        $"a silo left the cluster or could not be reached ({Innermost(e).Message.Split('\n')[0].Trim()}); the job continues on the other silos";

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
