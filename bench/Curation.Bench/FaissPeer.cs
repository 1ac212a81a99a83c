using System.Diagnostics;
using System.Text.Json;

namespace Curation.Bench;

/// <summary>
/// The reference side of <c>kmeans</c>: Debian's <c>python3-faiss</c> and <c>python3-numpy</c> under
/// <c>/usr/bin/python3</c>, driven through <c>faiss_peer.py</c> (embedded in this program, written to the benchmark's
/// temp folder). Before any comparison it checks the set-up the way DESIGN.md asks: that FAISS is there, which
/// <c>libblas.so.3</c> its <c>_swigfaiss*.so</c> resolves to (OpenBLAS, not the reference BLAS), and which OpenBLAS kernel
/// runs. A peer crippled by its set-up is no measurement, so when OpenBLAS's own kernel choice is much slower than one
/// this CPU supports (OpenBLAS 0.3.21 does not know recent Xeons and falls back to the SSE3 "Prescott" kernel) the peer
/// runs with the fastest kernel that computes a correct product, and says so.
/// </summary>
public sealed class FaissPeer
{
    public const string Python = "/usr/bin/python3";
    public const string InstallHint =
        "apt-get update && apt-get install -y python3-faiss python3-numpy libopenblas0-pthread " +
        "(libopenblas0-pthread takes over the libblas.so.3 alternative: without it FAISS runs on the slow reference BLAS)";

    /// <summary>Variables this machine may set for OpenBLAS (see the env docs); unset for the peer, then set only as chosen.</summary>
    private static readonly string[] OpenBlasOverrides = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

    /// <summary>OpenMP settings a user may pass to the peer (they change how its OpenMP and OpenBLAS threads share the cores).</summary>
    private static readonly string[] ThreadingVariables = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"];

    /// <summary>
    /// The peer's OpenMP wait policy unless the user sets one: FAISS alternates libgomp regions with OpenBLAS's own
    /// pthreads, and with libgomp's default spinning the two pools fight over 2 cores (measured: FAISS spent ~30% more CPU
    /// per iteration and ran ~25% slower than with PASSIVE, see bench/README.md). PASSIVE costs a wake-up per region (µs
    /// against regions of milliseconds).
    /// </summary>
    private const string DefaultWaitPolicy = "PASSIVE";

    private readonly string _script;

    private FaissPeer(string script, JsonElement probe, string? coreType, IReadOnlyList<string> report, bool blasOk, int ompThreads, int blasThreads)
    {
        _script = script;
        Probe = probe;
        CoreType = coreType;
        Report = report;
        BlasOk = blasOk;
        OmpThreads = ompThreads;
        BlasThreads = blasThreads;
    }

    /// <summary>FAISS's OpenMP threads (faiss.omp_set_num_threads) for k-means.</summary>
    public int OmpThreads { get; }

    /// <summary>OpenBLAS's threads (OPENBLAS_NUM_THREADS) for k-means.</summary>
    public int BlasThreads { get; }

    /// <summary>What <c>faiss_peer.py probe</c> said with OpenBLAS choosing its own kernel.</summary>
    public JsonElement Probe { get; }

    /// <summary>The OPENBLAS_CORETYPE the peer runs with; null: OpenBLAS's own choice.</summary>
    public string? CoreType { get; }

    /// <summary>Lines for the benchmark's output: versions, the BLAS resolution, the kernel choice and its reason.</summary>
    public IReadOnlyList<string> Report { get; }

    /// <summary>False when FAISS runs on a BLAS that is not OpenBLAS (the comparison is then flagged).</summary>
    public bool BlasOk { get; }

    /// <summary>
    /// Writes the script to <paramref name="folder"/> and checks the peer; null (with the reason and the install command
    /// printed) when Python, FAISS or numpy is missing.
    /// </summary>
    public static async Task<FaissPeer?> SetUpAsync(string folder, int threads)
    {
        if (!File.Exists(Python))
        {
            Console.WriteLine($"FAISS peer missing: {Python} does not exist. Install it with: {InstallHint}");
            return null;
        }
        var script = Path.Combine(folder, "faiss_peer.py");
        await using (var resource = typeof(FaissPeer).Assembly.GetManifestResourceStream("Curation.Bench.faiss_peer.py")
                                    ?? throw new InvalidOperationException("faiss_peer.py is not embedded in the benchmark"))
        await using (var file = File.Create(script))
            await resource.CopyToAsync(file);

        var own = await RunAsync(script, ["probe"], 1, 1, coreType: null, TimeSpan.FromMinutes(2));
        if (own.Result is not { } probe)
        {
            var missing = own.Stderr.Contains("ModuleNotFoundError", StringComparison.Ordinal) || own.Stderr.Contains("ImportError", StringComparison.Ordinal);
            Console.WriteLine(missing
                ? $"FAISS peer missing: {Python} cannot import faiss and numpy ({LastLine(own.Stderr)}). Install them with: {InstallHint}"
                : $"FAISS peer failed its probe (exit {own.ExitCode}): {LastLine(own.Stderr)}");
            return null;
        }

        var report = new List<string>();
        var swig = probe.GetProperty("swig").EnumerateArray().Select(e => e.GetString()!).ToList();
        report.Add($"faiss:    faiss {probe.GetProperty("faiss").GetString()}, numpy {probe.GetProperty("numpy").GetString()}, " +
                   $"python {probe.GetProperty("python").GetString()} ({Python}), {probe.GetProperty("faiss_dir").GetString()}");

        // ldd: which libblas.so.3 the extension resolves to, through the alternatives symlinks.
        var blasOk = true;
        foreach (var so in swig.Take(1))
        {
            var ldd = await RunToolAsync("ldd", [so]);
            var line = ldd.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("libblas.so", StringComparison.Ordinal));
            var target = line?.Split("=>", 2) is [_, var right] ? right.Trim().Split(' ')[0] : null;
            if (target is null)
            {
                report.Add($"blas:     ldd {Path.GetFileName(so)}: no libblas.so line (FAISS links its BLAS some other way); see the mapped files below");
                continue;
            }
            var real = (await RunToolAsync("readlink", ["-f", target])).Trim();
            blasOk = real.Contains("openblas", StringComparison.OrdinalIgnoreCase);
            report.Add($"blas:     ldd {Path.GetFileName(so)}: libblas.so.3 => {target} -> {real}" +
                       (blasOk ? " (OpenBLAS)" : real.Contains("/blas/", StringComparison.Ordinal) ? " (the REFERENCE BLAS)" : " (not OpenBLAS)"));
            if (!blasOk)
            {
                report.Add("WARNING: FAISS runs on the slow reference BLAS: its times below are NOT a fair reference. Fix: apt-get install " +
                           "libopenblas0-pthread (it takes over the alternative), or update-alternatives --set libblas.so.3-x86_64-linux-gnu " +
                           "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3");
            }
        }
        var mapped = probe.GetProperty("mapped").EnumerateArray().Select(e => e.GetString()!).ToList();
        report.Add($"mapped:   {(mapped.Count == 0 ? "no BLAS file mapped" : string.Join(", ", mapped))}");
        if (mapped.Any(m => m.Contains("/blas/", StringComparison.Ordinal)))
        {
            blasOk = false;
            report.Add("WARNING: the reference BLAS is mapped into the FAISS process: fix the libblas.so.3 alternative as above.");
        }

        // The kernel: OpenBLAS's own choice, then the ones this CPU supports; the fastest correct one runs the peer.
        var inherited = string.Join(", ", OpenBlasOverrides.Select(v => $"{v}={Environment.GetEnvironmentVariable(v) ?? "(unset)"}"));
        var threading = string.Join(", ", ThreadingVariables.Where(v => Environment.GetEnvironmentVariable(v) is not null)
            .Select(v => $"{v}={Environment.GetEnvironmentVariable(v)}"));
        report.Add($"threads:  the peer inherits this environment, except OMP_NUM_THREADS and OPENBLAS_NUM_THREADS (see split)" +
                   (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null ? $" and OMP_WAIT_POLICY={DefaultWaitPolicy} (set when absent: see bench/README.md)" : "") +
                   (threading.Length == 0 ? "" : $"; set here: {threading}"));
        var ownKernel = Kernel.From(null, probe);
        var kernels = new List<Kernel> { ownKernel };
        foreach (var candidate in CandidateCoreTypes())
        {
            var run = await RunAsync(script, ["probe"], 1, 1, coreType: candidate, TimeSpan.FromMinutes(2));
            kernels.Add(run.Result is { } result ? Kernel.From(candidate, result) : new Kernel(candidate, "crashed", double.NaN, 0));
        }
        var best = kernels.Where(k => k.Correct).MaxBy(k => k.Gflops) ?? ownKernel;
        var chosen = ownKernel.Correct && ownKernel.Gflops >= 0.9 * best.Gflops ? ownKernel : best;
        report.Add($"kernel:   this machine's environment: {inherited}; the peer runs with both unset, then: " +
                   string.Join("; ", kernels.Select(k => k.Describe())) + " (1-thread sgemm 4096×1000×384, best of 10, error vs float64)");
        if (!ReferenceEquals(chosen, ownKernel))
        {
            report.Add($"WARNING: OpenBLAS {OpenBlasVersion(probe)} chose the {ownKernel.CoreName} kernel on this CPU ({ownKernel.Gflops:0.0} GFLOP/s), " +
                       $"{best.Gflops / Math.Max(ownKernel.Gflops, 1e-9):0.0}× slower than {chosen.CoreName}: a FAISS crippled by its set-up. " +
                       $"The peer runs with OPENBLAS_CORETYPE={chosen.CoreType} (its product checked against float64 above).");
        }
        else
        {
            report.Add($"kernel:   the peer runs with OpenBLAS's own choice, {ownKernel.CoreName}");
        }
        var coreType = ReferenceEquals(chosen, ownKernel) ? null : chosen.CoreType;

        // The two thread pools: the split of `threads` between OpenMP and OpenBLAS under which FAISS's search runs fastest.
        var split = await RunAsync(script, ["threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)], threads, threads, coreType, TimeSpan.FromMinutes(5));
        var (omp, blas) = (threads, threads);
        if (split.Result is { } splits)
        {
            var configs = splits.GetProperty("configs").EnumerateArray()
                .Select(c => (Omp: c.GetProperty("omp").GetInt32(), Blas: c.GetProperty("blas").GetInt32(), Gflops: c.GetProperty("gflops").GetDouble())).ToList();
            var fastest = configs.MaxBy(c => c.Gflops);
            // The documented set-up (OpenMP = OpenBLAS = threads) unless another split is clearly (> 5%) faster.
            var documented = configs.FirstOrDefault(c => c.Omp == threads && c.Blas == threads);
            (omp, blas) = documented.Gflops >= 0.95 * fastest.Gflops ? (threads, threads) : (fastest.Omp, fastest.Blas);
            report.Add($"split:    FAISS search 200k × 1000 × 384 (k = 1, best of 3) by OpenMP × OpenBLAS threads: " +
                       string.Join("; ", configs.Select(c => $"{c.Omp} × {c.Blas} → {c.Gflops:0} GFLOP/s")) +
                       $" → k-means runs with omp_set_num_threads({omp}), OPENBLAS_NUM_THREADS={blas}" +
                       (omp == threads && blas == threads ? "" : $" (faster here than {threads} × {threads}, where the two pools oversubscribe the cores)"));
        }
        else
        {
            report.Add($"split:    the thread probe failed ({LastLine(split.Stderr)}); k-means runs with {threads} OpenMP and {threads} OpenBLAS threads");
        }
        return new FaissPeer(script, probe, coreType, report, blasOk, omp, blas);
    }

    /// <summary>Runs <c>faiss_peer.py</c> in <paramref name="mode"/> with the peer's environment and these thread counts.</summary>
    public async Task<JsonElement> RunModeAsync(string mode, IEnumerable<string> arguments, int ompThreads, int blasThreads, TimeSpan timeout)
    {
        var run = await RunAsync(_script, [mode, .. arguments], ompThreads, blasThreads, CoreType, timeout);
        return run.Result ?? throw new InvalidOperationException(
            $"faiss_peer.py {mode} failed (exit {run.ExitCode}): {string.Join(" | ", run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5))}");
    }

    /// <summary>The kernel OpenBLAS reports for a peer run (after the override).</summary>
    public static string CoreNameOf(JsonElement result) =>
        result.TryGetProperty("openblas", out var info) && info.TryGetProperty("corename", out var name) ? name.GetString() ?? "?" : "?";

    private sealed record Kernel(string? CoreType, string CoreName, double Error, double Gflops)
    {
        public bool Correct => Error < 1e-4 && Gflops > 0;

        public static Kernel From(string? coreType, JsonElement probe) => new(
            coreType, CoreNameOf(probe), probe.GetProperty("sgemm_rel_error").GetDouble(), probe.GetProperty("sgemm_gflops").GetDouble());

        public string Describe() =>
            $"{(CoreType is null ? "own choice" : $"OPENBLAS_CORETYPE={CoreType}")} → {CoreName} " +
            (Gflops > 0 ? $"{Gflops:0.0} GFLOP/s, error {Error:0.0e0}{(Correct ? "" : " WRONG")}" : "crashed");
    }

    private static string OpenBlasVersion(JsonElement probe) =>
        probe.TryGetProperty("openblas", out var info) && info.TryGetProperty("config", out var config)
            ? config.GetString()?.Split(' ').Skip(1).FirstOrDefault() ?? "?"
            : "?";

    /// <summary>OpenBLAS kernels worth trying on this CPU, from its flags: AVX-512 (SkylakeX, Cooperlake with BF16), AVX2 (Haswell).</summary>
    private static List<string> CandidateCoreTypes()
    {
        var flags = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line is not null) flags.UnionWith(line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }
        catch (IOException) { }
        var candidates = new List<string>();
        if (flags.IsSupersetOf(["avx512f", "avx512bw", "avx512dq", "avx512vl"]))
        {
            candidates.Add("SkylakeX");
            if (flags.Contains("avx512_bf16")) candidates.Add("Cooperlake");
        }
        if (flags.IsSupersetOf(["avx2", "fma"])) candidates.Add("Haswell");
        return candidates;
    }

    private sealed record PeerRun(int ExitCode, JsonElement? Result, string Stderr);

    private static async Task<PeerRun> RunAsync(string script, IReadOnlyList<string> arguments, int ompThreads, int blasThreads, string? coreType, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var variable in OpenBlasOverrides) start.Environment.Remove(variable);
        if (coreType is not null) start.Environment["OPENBLAS_CORETYPE"] = coreType;
        start.Environment["OMP_NUM_THREADS"] = ompThreads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["OPENBLAS_NUM_THREADS"] = blasThreads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!start.Environment.ContainsKey("OMP_WAIT_POLICY")) start.Environment["OMP_WAIT_POLICY"] = DefaultWaitPolicy;
        var (exit, stdout, stderr) = await RunProcessAsync(start, timeout);
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        JsonElement? result = exit == 0 && line is not null ? JsonDocument.Parse(line["RESULT ".Length..]).RootElement.Clone() : null;
        return new PeerRun(exit, result, stderr);
    }

    private static async Task<string> RunToolAsync(string tool, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            var (_, stdout, stderr) = await RunProcessAsync(start, TimeSpan.FromMinutes(1));
            return stdout + stderr;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"({tool} not available: {e.Message})";
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunProcessAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} ran past {timeout.TotalMinutes:0} min and was stopped");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? "(no output)";
}
