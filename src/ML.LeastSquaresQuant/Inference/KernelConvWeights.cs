using System;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// Binary convolution weights in the layout the kernels of <see cref="BinaryConv2d"/> read, built by
/// <see cref="PackedConvWeights.ToKernelLayout"/>.
/// </summary>
/// <remarks>
/// <see cref="Bits"/> is [plane j][ky][kx][word][o'] of 64-bit words, o' &lt; <see cref="PaddedOutChannels"/>
/// (O rounded up to 8, so one 512-bit vector holds 8 consecutive output channels and a 256-bit one 4).
/// Channel c of kernel position (ky, kx) is bit (c mod 64) of word c/64, set where the sign is +1; bits for c ≥ C
/// and the words of padding channels o' ≥ O are 0.
/// </remarks>
internal sealed class KernelConvWeights
{
    /// <summary>Wraps bits in the layout of the remarks; the arrays are not copied.</summary>
    public KernelConvWeights(int outChannels, int inChannels, int kernelSize, int planeCount, float[] scalars, ulong[] bits)
    {
        ArgumentNullException.ThrowIfNull(scalars);
        ArgumentNullException.ThrowIfNull(bits);
        OutChannels = outChannels;
        InChannels = inChannels;
        KernelSize = kernelSize;
        PlaneCount = planeCount;
        WordsPerPixel = (inChannels + 63) / 64;
        PaddedOutChannels = PadChannels(outChannels);
        if (scalars.Length != (long)outChannels * planeCount
            || bits.Length != (long)planeCount * kernelSize * kernelSize * WordsPerPixel * PaddedOutChannels)
        {
            throw new ArgumentException("The scalars or bits do not match the weight shape.");
        }
        Scalars = scalars;
        Bits = bits;
    }

    /// <summary>Output channels O.</summary>
    public int OutChannels { get; }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }

    /// <summary>Kernel size K.</summary>
    public int KernelSize { get; }

    /// <summary>Sign planes kW.</summary>
    public int PlaneCount { get; }

    /// <summary>ceil(C/64).</summary>
    public int WordsPerPixel { get; }

    /// <summary>O rounded up to a multiple of 8: the stride of the output-channel axis in <see cref="Bits"/>.</summary>
    public int PaddedOutChannels { get; }

    /// <summary>Step scalars α[o, j] as [O, kW] row-major.</summary>
    public float[] Scalars { get; }

    /// <summary>The sign words, layout in the type's remarks.</summary>
    public ulong[] Bits { get; }

    /// <summary>O rounded up to a multiple of 8.</summary>
    public static int PadChannels(int outChannels) => (outChannels + 7) & ~7;
}
