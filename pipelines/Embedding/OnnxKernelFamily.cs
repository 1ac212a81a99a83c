using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Curation.Pipelines.Embedding;

/// <summary>
/// The family of CPU kernels ONNX Runtime's math library (MLAS) runs the model's float operations with on this machine.
/// It picks them by the CPU's instruction sets: AVX-512 where the CPU has it, else AVX2 with FMA. Within one family the
/// same input gives the same floats on every machine; across families the last bits differ (the sums are blocked and
/// fused differently), so bytes derived from the model's floats (a distilled static table, a similarity column) are
/// pinned per family. An AVX2-only AMD EPYC and an AVX-512 Xeon or EPYC are two families.
/// </summary>
/// <remarks>
/// Read through .NET's view of the CPU, so a process started with <c>DOTNET_EnableAVX512F=0</c> on an AVX-512 machine
/// names <see cref="Avx2"/> while ONNX Runtime still uses AVX-512.
/// </remarks>
public static class OnnxKernelFamily
{
    public const string Avx512 = "avx512";
    public const string Avx2 = "avx2";

    /// <summary>This machine's family: <see cref="Avx512"/>, <see cref="Avx2"/>, or the processor architecture in lower case.</summary>
    public static string Current { get; } =
        Avx512F.IsSupported ? Avx512
        : System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported ? Avx2
        : RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
}
