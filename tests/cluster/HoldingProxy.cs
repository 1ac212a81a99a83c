using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Curation.Cluster.Tests;

/// <summary>
/// A TCP proxy in front of an HTTP/1.1 service (Azurite's blob service here) that can hold chosen requests. The kill
/// tests hold the commit markers of one phase's tasks, so the job is inside that phase, with tasks in flight on every
/// silo, for as long as the test needs — instead of racing a running job with status polls. Requests are forwarded
/// byte for byte; responses are not parsed at all. A held request whose client died meanwhile is dropped, as the
/// network drops the unsent request of a killed process.
/// </summary>
public sealed class HoldingProxy : IAsyncDisposable
{
    private const int MaxHeaderBytes = 64 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private volatile HoldRule? _rule;
    private int _held;
    private int _dropped;

    public HoldingProxy(Uri upstream)
    {
        _upstream = upstream;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The upstream address with the proxy's port (same scheme and path, e.g. the Azurite account).</summary>
    public Uri Endpoint => new UriBuilder(_upstream) { Host = "127.0.0.1", Port = ((IPEndPoint)_listener.LocalEndpoint).Port }.Uri;

    /// <summary>Requests waiting now.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Held requests dropped at release because their client had gone.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    /// <summary>From now on, the requests <paramref name="rule"/> holds wait until <see cref="Release"/>.</summary>
    public void Hold(HoldRule rule) => _rule = rule;

    /// <summary>Lets every held request go on (or be dropped, if its client is gone) and holds nothing more.</summary>
    public void Release() => Interlocked.Exchange(ref _rule, null)?.Released.TrySetResult();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        using var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_upstream.Host, _upstream.Port, _stop.Token);
            var fromClient = client.GetStream();
            var toUpstream = upstream.GetStream();
            var responses = toUpstream.CopyToAsync(fromClient, _stop.Token);
            var requests = ForwardRequestsAsync(client, fromClient, toUpstream);
            await Task.WhenAny(responses, requests);
            // One side ended: close both, then observe the other side's end.
            client.Close();
            upstream.Close();
            await Task.WhenAll(responses, requests);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A connection ends: a client or the upstream closed it, or the proxy stops.
        }
    }

    /// <summary>Request after request on one keep-alive connection: head, then its Content-Length bytes of body.</summary>
    private async Task ForwardRequestsAsync(TcpClient client, NetworkStream fromClient, NetworkStream toUpstream)
    {
        var buffer = new byte[MaxHeaderBytes];
        var filled = 0;
        while (true)
        {
            int headEnd;
            while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (filled == buffer.Length) throw new InvalidDataException($"A request head over {MaxHeaderBytes} bytes.");
                var read = await fromClient.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                if (read == 0) return;
                filled += read;
            }
            var headLength = headEnd + 4;
            var head = Encoding.ASCII.GetString(buffer, 0, headLength);
            var requestLine = head[..head.IndexOf("\r\n", StringComparison.Ordinal)];
            var contentLength = ContentLength(head, requestLine);

            if (!await PassAsync(requestLine, client)) return;

            await toUpstream.WriteAsync(buffer.AsMemory(0, headLength), _stop.Token);
            var bodyInBuffer = (int)Math.Min(filled - headLength, contentLength);
            await toUpstream.WriteAsync(buffer.AsMemory(headLength, bodyInBuffer), _stop.Token);
            var consumed = headLength + bodyInBuffer;
            Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
            filled -= consumed;
            for (var remaining = contentLength - bodyInBuffer; remaining > 0;)
            {
                var read = await fromClient.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), _stop.Token);
                if (read == 0) return;
                await toUpstream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                remaining -= read;
            }
        }
    }

    private static long ContentLength(string head, string requestLine)
    {
        long length = 0;
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) length = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                throw new NotSupportedException($"Chunked request bodies are not forwarded: {requestLine}");
        }
        return length;
    }

    private async Task<bool> PassAsync(string requestLine, TcpClient client)
    {
        var rule = _rule;
        if (rule is null || !rule.Holds(requestLine)) return true;
        Interlocked.Increment(ref _held);
        try { await rule.Released.Task.WaitAsync(_stop.Token); }
        finally { Interlocked.Decrement(ref _held); }
        if (IsConnected(client.Client)) return true;
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>A socket whose peer closed it reads as readable with nothing to read.</summary>
    private static bool IsConnected(Socket socket) => !(socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0);

    public async ValueTask DisposeAsync()
    {
        Release();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

/// <summary>
/// Which requests to hold: those whose request line (e.g. <c>PUT /account/container/key HTTP/1.1</c>) matches, except
/// the ones for the first <paramref name="letThrough"/> distinct paths. One rule may serve several proxies.
/// </summary>
public sealed class HoldRule(Func<string, bool> matches, int letThrough = 0)
{
    private readonly HashSet<string> _passed = new(StringComparer.Ordinal);

    public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Holds(string requestLine)
    {
        if (!matches(requestLine)) return false;
        var path = requestLine.Split(' ')[1].Split('?')[0];
        lock (_passed)
        {
            if (_passed.Contains(path)) return false;
            if (_passed.Count >= letThrough) return true;
            _passed.Add(path);
            return false;
        }
    }
}
