using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Curation.Cluster.Tests;

/// <summary>A child process for a test (a silo, Azurite, Redis): output kept for diagnostics, killed on dispose.</summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private ServiceProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public static ServiceProcess Start(string name, string executable, IEnumerable<string> arguments, IDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var service = new ServiceProcess(name, process);
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public string Output()
    {
        lock (_output) return _output.ToString();
    }

    /// <summary>SIGKILL: no shutdown, no goodbye to the cluster — what a crashed machine looks like.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM: the orderly stop a container runtime or systemd asks for.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>True when the process exited within <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until something accepts TCP connections on the port (the process answering), or fails with its output.</summary>
    public async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before listening on {port}:\n{Output()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(1));
                return;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} does not listen on {port} after {timeout}:\n{Output()}");
                await Task.Delay(100);
            }
        }
    }

    public void Dispose()
    {
        try { Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }

    public static int FreePort() => FreePorts(1)[0];

    public static int[] FreePorts(int count) => Curation.Grains.Hosting.LoopbackPorts.Free(count);
}
