using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// The AVX2 blocks of <see cref="PopCountKernels"/>: four output channels per 256-bit vector, per-byte nibble-table
/// popcount, byte sums folded into 64-bit lanes before they can overflow.
/// </summary>
internal static unsafe class Avx2Kernels
{
    /// <summary>Byte counters hold at most 8 per word, so 31 words fit before the sum could pass 255.</summary>
    private const int WordsPerFlush = 31;

    /// <summary>Each pixel of the run: 8 or 16 output channels (<typeparamref name="TWidth"/>: 2 or 4 vectors), reusing each broadcast
    /// activation word for every vector.</summary>
    // Fully optimized from the first call: a scoring service would otherwise run its first ~30 images on
    // unoptimized (tier-0) vector code, several times slower.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Block<TWidth>(in PixelTask t, ulong* a, ulong* w, int* counts, int full)
        where TWidth : struct, IVectorCount
    {
        var lut = Lut();
        var low = Vector256.Create((byte)0x0F);
        var fullVector = Vector256.Create(full);
        // Locals, not fields of t: t is a reference the count stores might alias, so the JIT would reload every
        // field after each store.
        int words = t.Words, padded = t.PaddedOut, ky0 = t.Ky0, ky1 = t.Ky1, pixels = t.Pixels;
        // Columns kx0…kx1−1 of one kernel row are consecutive words in both the activations and the weights.
        int u0 = t.Kx0 * words, u1 = t.Kx1 * words;
        long aRowStride = (long)t.Width * words, pixelStep = t.PixelStep, countsStride = t.CountsStride, wRowStride = t.RowStrideW;
        a += (t.Iy0 * (long)t.Width + t.Ix0) * words;
        for (int p = 0; p < pixels; p++, a += pixelStep, counts += countsStride)
        {
            Vector256<byte> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            Vector256<ulong> tot0 = default, tot1 = default, tot2 = default, tot3 = default;
            int pending = 0;
            for (int ky = ky0; ky < ky1; ky++)
            {
                ulong* aRow = a + ky * aRowStride;
                ulong* wRow = w + ky * wRowStride;
                for (int u = u0; u < u1; u++)
                {
                    var av = Vector256.Create(aRow[u]);
                    ulong* b = wRow + (long)u * padded;
                    acc0 += Pop(av ^ Vector256.Load(b), lut, low);
                    acc1 += Pop(av ^ Vector256.Load(b + 4), lut, low);
                    if (TWidth.Vectors >= 4)
                    {
                        acc2 += Pop(av ^ Vector256.Load(b + 8), lut, low);
                        acc3 += Pop(av ^ Vector256.Load(b + 12), lut, low);
                    }
                    if (++pending == WordsPerFlush)
                    {
                        tot0 += Sad(acc0);
                        tot1 += Sad(acc1);
                        tot2 += Sad(acc2);
                        tot3 += Sad(acc3);
                        acc0 = acc1 = acc2 = acc3 = default;
                        pending = 0;
                    }
                }
            }
            Store(counts, tot0 + Sad(acc0), tot1 + Sad(acc1), fullVector);
            if (TWidth.Vectors >= 4)
            {
                Store(counts + 8, tot2 + Sad(acc2), tot3 + Sad(acc3), fullVector);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Lut()
    {
        var lut = Vector128.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        return Vector256.Create(lut, lut);
    }

    /// <summary>Per-byte popcount (0…8) by two nibble lookups.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Pop(Vector256<ulong> x, Vector256<byte> lut, Vector256<byte> low) =>
        Avx2.Shuffle(lut, x.AsByte() & low) + Avx2.Shuffle(lut, Avx2.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);

    /// <summary>Sums the 8 byte counts of each 64-bit lane (one output channel) into that lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Sad(Vector256<byte> bytes) =>
        Avx2.SumAbsoluteDifferences(bytes, Vector256<byte>.Zero).AsUInt64();

    /// <summary>Writes full − 2·popcount for the 8 channels of two vectors (channels 0–3 and 4–7, one per 64-bit
    /// lane) with three vector operations; extracting the lanes one by one cost as much as the word loop of a
    /// narrow layer (a few words per pixel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(int* counts, Vector256<ulong> first, Vector256<ulong> second, Vector256<int> full)
    {
        // Counts fit in 32 bits: the second vector's go to the upper halves, [c0 c4 c1 c5 | c2 c6 c3 c7], then in order.
        var interleaved = (first | Avx2.ShiftLeftLogical(second, 32)).AsInt32();
        var pop = Avx2.PermuteVar8x32(interleaved, Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        (full - (pop + pop)).Store(counts);
    }
}
