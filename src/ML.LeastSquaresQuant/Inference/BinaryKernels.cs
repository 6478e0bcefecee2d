using System;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>The XOR-popcount kernels of <see cref="BinaryConv2d"/>; all of them give identical integers.</summary>
internal enum BinaryKernelPath
{
    /// <summary>Eight output channels per 512-bit vector, 64-entry table popcount (Avx512Vbmi byte permute), no masks.</summary>
    Avx512Vbmi,

    /// <summary>Eight output channels per 512-bit vector, nibble-table popcount (Avx512BW byte shuffle).</summary>
    /// <remarks>.NET 10 exposes no x86 vector popcount (no Avx512Vpopcntdq/Avx512Bitalg class, no
    /// Vector512.PopCount), so the table lookup is the fastest vector popcount available.</remarks>
    Avx512,

    /// <summary>Four output channels per 256-bit vector, nibble-table popcount (Avx2 byte shuffle).</summary>
    Avx2,

    /// <summary>One 64-bit word at a time with <see cref="System.Numerics.BitOperations.PopCount(ulong)"/>.</summary>
    Portable,
}

/// <summary>Which <see cref="BinaryKernelPath"/> this CPU can run, and which one is used by default.</summary>
internal static class BinaryKernels
{
    /// <summary>Whether <paramref name="path"/> can run on this CPU (<see cref="BinaryKernelPath.Portable"/> always can).</summary>
    public static bool IsSupported(BinaryKernelPath path) => path switch
    {
        BinaryKernelPath.Avx512Vbmi => Avx512Vbmi.IsSupported && Avx512BW.IsSupported,
        BinaryKernelPath.Avx512 => Avx512BW.IsSupported,
        BinaryKernelPath.Avx2 => Avx2.IsSupported,
        BinaryKernelPath.Portable => true,
        _ => false,
    };

    /// <summary>The fastest supported path: AVX-512 with VBMI, AVX-512, then AVX2, then portable.</summary>
    public static BinaryKernelPath Best { get; } =
        IsSupported(BinaryKernelPath.Avx512Vbmi) ? BinaryKernelPath.Avx512Vbmi
        : IsSupported(BinaryKernelPath.Avx512) ? BinaryKernelPath.Avx512
        : IsSupported(BinaryKernelPath.Avx2) ? BinaryKernelPath.Avx2
        : BinaryKernelPath.Portable;

    /// <summary>Throws when <paramref name="path"/> cannot run here (a test forcing a path the CPU lacks).</summary>
    public static void EnsureSupported(BinaryKernelPath path)
    {
        if (!IsSupported(path))
        {
            throw new PlatformNotSupportedException($"The {path} binary kernel needs instructions this CPU lacks.");
        }
    }
}
