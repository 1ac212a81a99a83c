using System.Net;

namespace Curation.Silo.Commands;

/// <summary>
/// The CLI's connection to a cluster: any silo's API serves every job, so a request that finds its silo gone (no
/// connection, no answer, 502/503/504) is sent again — to the next of the given URLs, with backoff — until one
/// answers or <see cref="Window"/> has passed. Every request the CLI makes is safe to repeat (reads; submit is
/// idempotent by job id; cancel is idempotent). Each switch is announced in one sentence on stderr.
/// </summary>
public sealed class FailoverHandler : DelegatingHandler
{
    private readonly IReadOnlyList<Uri> _bases;
    private readonly TextWriter _say;
    private int _current;

    public FailoverHandler(IReadOnlyList<Uri> bases, TextWriter say)
        : base(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        if (bases.Count == 0) throw new ArgumentException("at least one URL is needed", nameof(bases));
        _bases = bases;
        _say = say;
    }

    /// <summary>How long a request keeps trying before the command gives up.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// How long the command's first request keeps trying while no silo has answered yet: a silo that was never reached is
    /// more often a wrong URL or a cluster not started than one that just died, and waiting <see cref="Window"/> for it
    /// only hides that (at most <see cref="Window"/>).
    /// </summary>
    public TimeSpan FirstContactWindow { get; init; } = TimeSpan.FromSeconds(15);

    // Whether anything has answered this command over HTTP yet (after which a silo that stops answering has left the cluster).
    private bool _answered;

    /// <summary>How long one silo may take to answer one request.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(90);

    public Uri Current => _bases[_current];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pathAndQuery = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : request.RequestUri.OriginalString;
        var started = DateTime.UtcNow;
        var delay = TimeSpan.FromMilliseconds(500);
        var failed = false;
        while (true)
        {
            var target = _bases[_current];
            request.RequestUri = new Uri(target, pathAndQuery);
            string problem;
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attempt.CancelAfter(AttemptTimeout);
                try
                {
                    var response = await base.SendAsync(request, attempt.Token).ConfigureAwait(false);
                    var wasAnswered = _answered;
                    _answered = true; // a silo (or a proxy before it) is there, even when it says 503 while its cluster starts
                    if (response.StatusCode is not (HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout))
                    {
                        if (failed && wasAnswered) await _say.WriteLineAsync($"reconnected to {target}.").ConfigureAwait(false);
                        return response;
                    }
                    problem = $"{(int)response.StatusCode} {response.ReasonPhrase}: " +
                              ApiClientCommands.ErrorOf(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                    response.Dispose();
                }
                catch (HttpRequestException e)
                {
                    problem = e.Message;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    problem = $"no answer within {AttemptTimeout.TotalSeconds:F0} s";
                }
            }
            var waited = DateTime.UtcNow - started;
            if (!_answered && waited > (FirstContactWindow < Window ? FirstContactWindow : Window))
                throw new HttpRequestException($"No silo answers at {string.Join(", ", _bases)} (last: {problem}): is `curate silo` running " +
                    $"there? Give its API URL with --url or ${ApiClientCommands.UrlVariable} (a cluster's silos comma-separated).");
            if (waited > Window)
                throw new HttpRequestException($"No silo answered for {Window.TotalSeconds:F0} s (last: {target}: {problem}). " +
                    "What the cluster was doing (jobs, schedules) goes on if any silo is left: ask again later (`curate status <job id>`, " +
                    "`curate schedule list`).");
            failed = true;
            var next = (_current + 1) % _bases.Count;
            var then = next == _current ? $"retrying in {delay.TotalSeconds:F1} s." : $"trying {_bases[next]}.";
            await _say.WriteLineAsync(_answered
                ? $"silo at {target} left the cluster or does not answer ({problem}); the cluster carries on without it — {then}"
                : $"silo at {target} does not answer ({problem}) — {then}").ConfigureAwait(false);
            _current = next;
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }
}
