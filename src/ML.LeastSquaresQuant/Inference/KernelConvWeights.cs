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

    /// <summary>The same planes in their storage form (the inverse of <see cref="PackedConvWeights.ToKernelLayout"/>),
    /// rebuilt when a layer that keeps only this layout is saved or needs its float weights back.</summary>
    public PackedConvWeights ToPacked()
    {
        int k = KernelSize, c = InChannels, words = WordsPerPixel, rowBytes = PackedConvWeights.RowBytesFor(c, k);
        var signs = new byte[checked((long)PlaneCount * OutChannels * rowBytes)];
        for (int j = 0; j < PlaneCount; j++)
        {
            for (int o = 0; o < OutChannels; o++)
            {
                long row = ((long)j * OutChannels + o) * rowBytes;
                for (int ch = 0; ch < c; ch++)
                {
                    for (int ky = 0; ky < k; ky++)
                    {
                        for (int kx = 0; kx < k; kx++)
                        {
                            long word = ((((long)j * k + ky) * k + kx) * words + ch / 64) * PaddedOutChannels + o;
                            if ((Bits[word] >> (ch & 63) & 1) != 0)
                            {
                                int e = (ch * k + ky) * k + kx;
                                signs[row + (e >> 3)] |= (byte)(1 << (e & 7));
                            }
                        }
                    }
                }
            }
        }
        return new PackedConvWeights(OutChannels, c, k, PlaneCount, (float[])Scalars.Clone(), signs);
    }

    /// <summary>O rounded up to a multiple of 8.</summary>
    public static int PadChannels(int outChannels) => (outChannels + 7) & ~7;
}
