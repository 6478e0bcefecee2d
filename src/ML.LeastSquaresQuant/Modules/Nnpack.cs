using System;
using System.Runtime.InteropServices;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// Stops libtorch from probing NNPACK on every convolution where NNPACK cannot run. libtorch 2.10 asks
/// <c>at::_nnpack_available()</c> before each gradient-free convolution that oneDNN does not take (batch-1 scoring of
/// small layers) and, where NNPACK fails to initialize, logs "Could not initialize NNPACK! Reason: Unsupported
/// hardware." each time: tens of thousands of lines per run. NNPACK fails on CPUs and virtual machines that report no
/// cache sizes (CPUID leaves 4 and 0x8000001D empty, no /sys cache entries).
/// </summary>
/// <remarks>
/// We call NNPACK's own <c>nnp_initialize</c> (exported by libtorch_cpu, silent) once. Only when it reports that
/// NNPACK cannot run here do we switch libtorch's NNPACK use off (<c>at::Context::setUserEnabledNNPACK(false)</c>):
/// that selects exactly the kernels libtorch already fell back to, so no host's results or speed change; where NNPACK
/// works nothing is touched. TorchSharp wraps neither function, so they are bound by their exported names, which exist
/// only in the Linux x64 build (Itanium C++ mangling); elsewhere this does nothing.
/// </remarks>
internal static class Nnpack
{
    private static readonly Lazy<bool> Silenced = new(Silence);

    /// <summary>Makes sure the probe ran; cheap after the first call.</summary>
    /// <returns>True when libtorch's NNPACK use was switched off because NNPACK cannot run here.</returns>
    public static bool EnsureQuiet() => Silenced.Value;

    private static bool Silence()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return false;
        }
        try
        {
            if (NativeMethods.nnp_initialize() == 0)
            {
                return false; // NNPACK works here: libtorch may use it as it likes
            }
            NativeMethods.SetUserEnabledNnpack(NativeMethods.GlobalContext(), false);
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // another libtorch build: leave it as it is
        }
    }

    private static partial class NativeMethods
    {
        private const string Library = "libtorch_cpu";

        [DllImport(Library, EntryPoint = "nnp_initialize")]
        public static extern int nnp_initialize();

        [DllImport(Library, EntryPoint = "_ZN2at13globalContextEv")]
        public static extern IntPtr GlobalContext();

        [DllImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
        public static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
    }
}
