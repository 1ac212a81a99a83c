using Curation.Pipelines.Execution;
using Curation.Pipelines.Spec;

namespace Curation.Grains.Hosting;

/// <summary>
/// Lets a grain's error reach its caller on any silo, or a client, with its message. Orleans serializes exceptions of the
/// Microsoft, System and Azure namespaces only: one of the pure library's own types (<see cref="JobSpecException"/>,
/// <c>ObjectStoreException</c>, <c>AccountingException</c>, …) arrived as <c>CodecNotFoundException: Could not find a
/// codec for type Curation.Pipelines.Spec.JobSpecException</c>, its message lost, and a caller catching it by type never
/// matched. At every grain's boundary such an error becomes a framework type carrying <see cref="JobRunner.Describe"/>'s
/// text, whichever silo the caller is on, so behaviour does not depend on placement: a refused spec an
/// <see cref="ArgumentException"/>, anything else an <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class PortableExceptionsFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (HasOwnType(e))
        {
            throw Portable(e);
        }
    }

    /// <summary>The framework-typed error that stands for <paramref name="e"/> outside this silo.</summary>
    public static Exception Portable(Exception e) => e switch
    {
        JobSpecException => new ArgumentException(JobRunner.Describe(e)),
        OperationCanceledException => new OperationCanceledException(JobRunner.Describe(e)),
        _ => new InvalidOperationException(JobRunner.Describe(e)),
    };

    /// <summary>Whether <paramref name="e"/> or an exception inside it is one of this product's types.</summary>
    public static bool HasOwnType(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
            if (current.GetType().Namespace?.StartsWith("Curation.", StringComparison.Ordinal) == true) return true;
        return false;
    }
}
