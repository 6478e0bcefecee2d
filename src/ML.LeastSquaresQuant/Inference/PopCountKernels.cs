using System.Numerics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// A run of output pixels of one output row that share their kernel window case (the same in-bounds window and
/// weights): for every pixel, every (activation plane i, weight plane j) and output channel o,
/// B_ij[o] = C·positions − 2·Σ popcount(a XOR b) over the in-bounds kernel positions and channel words.
/// </summary>
/// <remarks>The caller clamps the kernel window to the image (<see cref="Ky0"/>…<see cref="Kx1"/>), so the loops
/// here never test bounds; the padded positions contribute 0 by being absent from the window. A run rather than a
/// single pixel because a narrow layer's pixel is a few dozen instructions: per-pixel calls and loop set-up cost
/// more than the popcounts (measured 38 µs per 28×28×16 image per layer before, see docs/benchmarks.md).</remarks>
internal unsafe struct PixelTask
{
    /// <summary>Sample n's activation planes, [plane][h][w][word].</summary>
    public ulong* Activations;

    /// <summary>Kernel-layout weights, [plane][ky][kx][word][o'] (see <see cref="KernelConvWeights"/>), or a folded
    /// layout [plane][ky][word][o'] read as a single kernel column (see <see cref="FoldedConvWeights"/>).</summary>
    public ulong* Weights;

    /// <summary>The result B_ij[o] of pixel p at <c>p·CountsStride + (i·kW + j)·PaddedOut + o</c>; entries o ≥ O
    /// are unspecified.</summary>
    public int* Counts;

    /// <summary>Pixels in the run (≥ 1), words between the windows of consecutive pixels (S times
    /// <see cref="Words"/>), and ints between their counts.</summary>
    public int Pixels, PixelStep, CountsStride;

    /// <summary>Input height and width (in window starts for a folded layout) and words per pixel or window row.</summary>
    public int Height, Width, Words;

    /// <summary>C times the number of in-bounds kernel positions: the ±1 products each correlation sums.</summary>
    public int Full;

    /// <summary>Words between activation planes, between weight planes, and between weight kernel rows (ky).</summary>
    public long PlaneStrideA, PlaneStrideW, RowStrideW;

    /// <summary>kA, kW, O and O rounded up to 8.</summary>
    public int PlanesA, PlanesW, OutChannels, PaddedOut;

    /// <summary>Input row/column of kernel position (0, 0) of the run's first pixel: y·S − P and x·S − P (may be
    /// negative).</summary>
    public int Iy0, Ix0;

    /// <summary>The in-bounds kernel window: ky in [Ky0, Ky1), kx in [Kx0, Kx1).</summary>
    public int Ky0, Ky1, Kx0, Kx1;
}

/// <summary>
/// The implementations of <see cref="PixelTask"/>, one per <see cref="BinaryKernelPath"/>; they give identical integers.
/// </summary>
internal static unsafe class PopCountKernels
{
    /// <summary>Runs <paramref name="path"/> on one pixel.</summary>
    // Fully optimized from the first call: a scoring service would otherwise run its first ~30 images on
    // unoptimized (tier-0) vector code, several times slower.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Run(BinaryKernelPath path, in PixelTask t)
    {
        switch (path)
        {
            case BinaryKernelPath.Avx512Vbmi:
                Avx512Pixel<Avx512Kernels.PermutePopCount>(t);
                break;
            case BinaryKernelPath.Avx512:
                Avx512Pixel<Avx512Kernels.ShufflePopCount>(t);
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
        long planeA = t.PlaneStrideA, planeW = t.PlaneStrideW;
        int full = t.Full;
        for (int p = 0; p < t.Pixels; p++)
        for (int i = 0; i < t.PlanesA; i++)
        {
            for (int j = 0; j < t.PlanesW; j++)
            {
                int* counts = t.Counts + (long)p * t.CountsStride + (i * t.PlanesW + j) * t.PaddedOut;
                new System.Span<int>(counts, t.OutChannels).Clear();
                for (int ky = t.Ky0; ky < t.Ky1; ky++)
                {
                    ulong* aRow = t.Activations + i * planeA + ((long)(t.Iy0 + ky) * t.Width + t.Ix0) * t.Words
                        + (long)p * t.PixelStep;
                    ulong* wRow = t.Weights + j * planeW + ky * t.RowStrideW;
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

    private static void Avx512Pixel<TPop>(in PixelTask t) where TPop : struct, IBytePopCount512
    {
        long planeA = t.PlaneStrideA, planeW = t.PlaneStrideW;
        int full = t.Full;
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
                    Avx512Kernels.Block<TPop, FourVectors>(t, a, w + g, counts + g, full);
                }
                if (g + 16 <= t.PaddedOut)
                {
                    Avx512Kernels.Block<TPop, TwoVectors>(t, a, w + g, counts + g, full);
                    g += 16;
                }
                if (g < t.PaddedOut)
                {
                    Avx512Kernels.Block<TPop, OneVector>(t, a, w + g, counts + g, full);
                }
            }
        }
    }

    private static void Avx2Pixel(in PixelTask t)
    {
        long planeA = t.PlaneStrideA, planeW = t.PlaneStrideW;
        int full = t.Full;
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
                    Avx2Kernels.Block<FourVectors>(t, a, w + g, counts + g, full);
                }
                // O' is a multiple of 8, so at most 8 channels (two vectors) remain.
                if (g < t.PaddedOut)
                {
                    Avx2Kernels.Block<TwoVectors>(t, a, w + g, counts + g, full);
                }
            }
        }
    }
}
