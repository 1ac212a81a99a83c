using System.Net;
using System.Net.Sockets;

namespace Curation.Grains.Hosting;

/// <summary>Free loopback TCP ports for a silo's endpoints (an embedded silo, test clusters), so none collides with a long-lived one.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// Distinct free ports: all are held open until every one is chosen (one after the other, the system may hand out the
    /// same port twice, which a silo then refused: "SiloPort and GatewayPort must differ").
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners) listener.Dispose();
        }
    }
}
