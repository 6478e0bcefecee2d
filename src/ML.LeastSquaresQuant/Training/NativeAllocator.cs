using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// Process-wide tuning of the C allocator behind libtorch's CPU tensors (glibc on Linux).
/// </summary>
/// <remarks>
/// <para>Activations of a ResNet are megabytes each and are freed and allocated again at every layer of every
/// step. glibc serves such blocks with <c>mmap</c> and returns them to the kernel on free (or trims the heap), so
/// every new tensor page-faults its memory in again: on our 2-core machine that was 420,000 page faults in 12
/// training steps and 6 evaluation batches of ResNet-18 and cost up to a quarter of the evaluation time.
/// <see cref="Tune"/> keeps freed blocks up to 32 MiB in the heap and returns heap memory to the kernel only when
/// more than 256 MiB are free at its top, so memory is reused instead of faulted in again. The process's resident
/// memory stays flat; it is simply not given back between batches.</para>
/// <para>Because it changes the allocator of the whole host process, the library applies it only where training
/// runs: <see cref="TrainingLoop.Run"/> and <see cref="TrainingLoop.Evaluate"/> (and so the ML.NET trainer) call
/// <see cref="Tune"/>. Constructing or loading a transformer does not; a program that scores on the CPU calls
/// <see cref="Tune"/> once at start-up to opt in (the command line and the Fashion-MNIST sample do). Setting the
/// environment variable <c>LSQUANT_TUNE_ALLOCATOR=0</c> turns it off for the whole process, training included;
/// elsewhere than glibc it does nothing.</para>
/// </remarks>
public static class NativeAllocator
{
    /// <summary>The largest block still served from the heap: glibc's own upper limit for that setting.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>Free memory at the top of the heap above which glibc gives memory back to the kernel.</summary>
    public const int TrimThresholdBytes = 256 << 20;

    /// <summary>The environment variable that turns the tuning off when set to <c>0</c>.</summary>
    public const string DisableVariable = "LSQUANT_TUNE_ALLOCATOR";

    private const int MTrimThreshold = -1;
    private const int MTopPad = -2;
    private const int MMmapThreshold = -3;

    private static int _state; // 0 not tried, 1 tuned, 2 not applicable or turned off

    /// <summary>Whether the tuning is in effect in this process.</summary>
    public static bool IsTuned => Volatile.Read(ref _state) == 1;

    /// <summary>Applies the tuning once per process (later calls return the first call's result).</summary>
    /// <returns>Whether it is in effect: false off Linux/glibc or when <see cref="DisableVariable"/> is <c>0</c>.</returns>
    public static bool Tune()
    {
        int state = Volatile.Read(ref _state);
        if (state != 0)
        {
            return state == 1;
        }
        bool applied = Environment.GetEnvironmentVariable(DisableVariable) != "0" && TryApply();
        Interlocked.CompareExchange(ref _state, applied ? 1 : 2, 0);
        return Volatile.Read(ref _state) == 1;
    }

    private static bool TryApply()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc))
        {
            return false;
        }
        // mallopt and gnu_get_libc_version together identify glibc; musl has neither.
        if (!NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _)
            || !NativeLibrary.TryGetExport(libc, "mallopt", out var mallopt))
        {
            return false;
        }
        unsafe
        {
            var set = (delegate* unmanaged<int, int, int>)mallopt;
            return set(MMmapThreshold, MmapThresholdBytes) == 1
                & set(MTrimThreshold, TrimThresholdBytes) == 1
                & set(MTopPad, 16 << 20) == 1;
        }
    }
}
