using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// One output pixel of a binary convolution: for every (activation plane i, weight plane j) and output channel o,
/// B_ij[o] = C·positions − 2·Σ popcount(a XOR b) over the in-bounds kernel positions and channel words.
/// </summary>
/// <remarks>The caller clamps the kernel window to the image (<see cref="Ky0"/>…<see cref="Kx1"/>), so the loops
/// here never test bounds; the padded positions contribute 0 by being absent from the window.</remarks>
internal unsafe struct PixelTask
{
    /// <summary>Sample n's activation planes, [plane][h][w][word].</summary>
    public ulong* Activations;

    /// <summary>Kernel-layout weights, [plane][ky][kx][word][o'] (see <see cref="KernelConvWeights"/>).</summary>
    public ulong* Weights;

    /// <summary>The result B_ij[o] at <c>(i·kW + j)·PaddedOut + o</c>; entries o ≥ O are unspecified.</summary>
    public int* Counts;

    /// <summary>Input height, width, channels, words per pixel (ceil(C/64)) and kernel size.</summary>
    public int Height, Width, Channels, Words, Kernel;

    /// <summary>kA, kW, O and O rounded up to 8.</summary>
    public int PlanesA, PlanesW, OutChannels, PaddedOut;

    /// <summary>Input row/column of kernel position (0, 0): y·S − P and x·S − P (may be negative).</summary>
    public int Iy0, Ix0;

    /// <summary>The in-bounds kernel window: ky in [Ky0, Ky1), kx in [Kx0, Kx1).</summary>
    public int Ky0, Ky1, Kx0, Kx1;
}

/// <summary>The three implementations of <see cref="PixelTask"/>; they give identical integers.</summary>
internal static unsafe class PopCountKernels
{
    /// <summary>Byte counters hold at most 8 per word, so 31 words fit before the sum could pass 255.</summary>
    private const int WordsPerFlush = 31;

    /// <summary>Runs <paramref name="path"/> on one pixel.</summary>
    public static void Run(BinaryKernelPath path, in PixelTask t)
    {
        switch (path)
        {
            case BinaryKernelPath.Avx512:
                Avx512Pixel(t);
                break;
            case BinaryKernelPath.Avx2:
                Avx2Pixel(t);
                break;
            default:
                PortablePixel(t);
                break;
        }
    }

    private static void PortablePixel(in PixelTask t)
    {
        long planeA = (long)t.Height * t.Width * t.Words, planeW = (long)t.Kernel * t.Kernel * t.Words * t.PaddedOut;
        int full = t.Channels * (t.Ky1 - t.Ky0) * (t.Kx1 - t.Kx0);
        for (int i = 0; i < t.PlanesA; i++)
        {
            for (int j = 0; j < t.PlanesW; j++)
            {
                int* counts = t.Counts + (i * t.PlanesW + j) * t.PaddedOut;
                new System.Span<int>(counts, t.OutChannels).Clear();
                for (int ky = t.Ky0; ky < t.Ky1; ky++)
                {
                    ulong* aRow = t.Activations + i * planeA + ((long)(t.Iy0 + ky) * t.Width + t.Ix0) * t.Words;
                    ulong* wRow = t.Weights + j * planeW + (long)ky * t.Kernel * t.Words * t.PaddedOut;
                    for (int kx = t.Kx0; kx < t.Kx1; kx++)
                    {
                        for (int w = 0; w < t.Words; w++)
                        {
                            ulong a = aRow[kx * t.Words + w];
                            ulong* b = wRow + ((long)kx * t.Words + w) * t.PaddedOut;
                            for (int o = 0; o < t.OutChannels; o++)
                            {
                                counts[o] += BitOperations.PopCount(a ^ b[o]);
                            }
                        }
                    }
                }
                for (int o = 0; o < t.OutChannels; o++)
                {
                    counts[o] = full - 2 * counts[o];
                }
            }
        }
    }

    private static void Avx512Pixel(in PixelTask t)
    {
        long planeA = (long)t.Height * t.Width * t.Words, planeW = (long)t.Kernel * t.Kernel * t.Words * t.PaddedOut;
        int full = t.Channels * (t.Ky1 - t.Ky0) * (t.Kx1 - t.Kx0);
        for (int i = 0; i < t.PlanesA; i++)
        {
            for (int j = 0; j < t.PlanesW; j++)
            {
                ulong* a = t.Activations + i * planeA;
                ulong* w = t.Weights + j * planeW;
                int* counts = t.Counts + (i * t.PlanesW + j) * t.PaddedOut;
                int g = 0;
                for (; g + 32 <= t.PaddedOut; g += 32)
                {
                    Avx512Block4(t, a, w + g, counts + g, full);
                }
                for (; g < t.PaddedOut; g += 8)
                {
                    Avx512Block1(t, a, w + g, counts + g, full);
                }
            }
        }
    }

    /// <summary>32 output channels (4 vectors), reusing each broadcast activation word 4 times.</summary>
    private static void Avx512Block4(in PixelTask t, ulong* a, ulong* w, int* counts, int full)
    {
        var lut = Lut512();
        var low = Vector512.Create((byte)0x0F);
        Vector512<byte> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector512<ulong> tot0 = default, tot1 = default, tot2 = default, tot3 = default;
        int pending = 0;
        long kxStride = (long)t.Words * t.PaddedOut;
        for (int ky = t.Ky0; ky < t.Ky1; ky++)
        {
            ulong* aRow = a + ((long)(t.Iy0 + ky) * t.Width + t.Ix0) * t.Words;
            ulong* wRow = w + ky * t.Kernel * kxStride;
            for (int kx = t.Kx0; kx < t.Kx1; kx++)
            {
                for (int word = 0; word < t.Words; word++)
                {
                    var av = Vector512.Create(aRow[kx * t.Words + word]);
                    ulong* b = wRow + kx * kxStride + (long)word * t.PaddedOut;
                    acc0 += Pop512(av ^ Vector512.Load(b), lut, low);
                    acc1 += Pop512(av ^ Vector512.Load(b + 8), lut, low);
                    acc2 += Pop512(av ^ Vector512.Load(b + 16), lut, low);
                    acc3 += Pop512(av ^ Vector512.Load(b + 24), lut, low);
                    if (++pending == WordsPerFlush)
                    {
                        tot0 += Sad512(acc0);
                        tot1 += Sad512(acc1);
                        tot2 += Sad512(acc2);
                        tot3 += Sad512(acc3);
                        acc0 = acc1 = acc2 = acc3 = default;
                        pending = 0;
                    }
                }
            }
        }
        Store512(counts, tot0 + Sad512(acc0), full);
        Store512(counts + 8, tot1 + Sad512(acc1), full);
        Store512(counts + 16, tot2 + Sad512(acc2), full);
        Store512(counts + 24, tot3 + Sad512(acc3), full);
    }

    /// <summary>8 output channels (the remainder after blocks of 32).</summary>
    private static void Avx512Block1(in PixelTask t, ulong* a, ulong* w, int* counts, int full)
    {
        var lut = Lut512();
        var low = Vector512.Create((byte)0x0F);
        Vector512<byte> acc = default;
        Vector512<ulong> tot = default;
        int pending = 0;
        long kxStride = (long)t.Words * t.PaddedOut;
        for (int ky = t.Ky0; ky < t.Ky1; ky++)
        {
            ulong* aRow = a + ((long)(t.Iy0 + ky) * t.Width + t.Ix0) * t.Words;
            ulong* wRow = w + ky * t.Kernel * kxStride;
            for (int kx = t.Kx0; kx < t.Kx1; kx++)
            {
                for (int word = 0; word < t.Words; word++)
                {
                    var av = Vector512.Create(aRow[kx * t.Words + word]);
                    acc += Pop512(av ^ Vector512.Load(wRow + kx * kxStride + (long)word * t.PaddedOut), lut, low);
                    if (++pending == WordsPerFlush)
                    {
                        tot += Sad512(acc);
                        acc = default;
                        pending = 0;
                    }
                }
            }
        }
        Store512(counts, tot + Sad512(acc), full);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Lut512()
    {
        var lut = Vector128.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        var half = Vector256.Create(lut, lut);
        return Vector512.Create(half, half);
    }

    /// <summary>Per-byte popcount (0…8) by two nibble lookups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Pop512(Vector512<ulong> x, Vector512<byte> lut, Vector512<byte> low) =>
        Avx512BW.Shuffle(lut, x.AsByte() & low)
        + Avx512BW.Shuffle(lut, Avx512BW.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);

    /// <summary>Sums the 8 byte counts of each 64-bit lane (one output channel) into that lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Sad512(Vector512<byte> bytes) =>
        Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(int* counts, Vector512<ulong> popcounts, int full)
    {
        var pop = Avx512F.ConvertToVector256Int32(popcounts.AsInt64());
        (Vector256.Create(full) - (pop + pop)).Store(counts);
    }

    private static void Avx2Pixel(in PixelTask t)
    {
        long planeA = (long)t.Height * t.Width * t.Words, planeW = (long)t.Kernel * t.Kernel * t.Words * t.PaddedOut;
        int full = t.Channels * (t.Ky1 - t.Ky0) * (t.Kx1 - t.Kx0);
        for (int i = 0; i < t.PlanesA; i++)
        {
            for (int j = 0; j < t.PlanesW; j++)
            {
                ulong* a = t.Activations + i * planeA;
                ulong* w = t.Weights + j * planeW;
                int* counts = t.Counts + (i * t.PlanesW + j) * t.PaddedOut;
                int g = 0;
                for (; g + 16 <= t.PaddedOut; g += 16)
                {
                    Avx2Kernels.Block4(t, a, w + g, counts + g, full);
                }
                for (; g < t.PaddedOut; g += 4)
                {
                    Avx2Kernels.Block1(t, a, w + g, counts + g, full);
                }
            }
        }
    }
}
