using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>A per-byte popcount (0…8 in each byte) of a 512-bit vector.</summary>
/// <remarks>The lookup tables are static readonly fields. Measured slower on Zen 5 with .NET 10 (single thread, every
/// kernel path side by side): the tables passed into the kernels as locals, which the JIT kept on the stack (20 to
/// 60 % slower), and vector constants written inside <c>Pop</c>, which it rebuilt on the stack at each use (four to
/// five times slower).</remarks>
internal interface IBytePopCount512
{
    /// <summary>The popcount of each byte of <paramref name="x"/>, in that byte.</summary>
    static abstract Vector512<byte> Pop(Vector512<ulong> x);
}

/// <summary>
/// The AVX-512 blocks of <see cref="PopCountKernels"/>: eight output channels per 512-bit vector, a per-byte popcount
/// (the <see cref="IBytePopCount512"/> type argument of each method), byte sums folded into 64-bit lanes before they can overflow.
/// </summary>
internal static unsafe class Avx512Kernels
{
    /// <summary>Byte counters hold at most 8 per word, so 31 words fit before the sum could pass 255.</summary>
    private const int WordsPerFlush = 31;

    /// <summary>
    /// Each pixel of the run: 8, 16 or 32 output channels (<typeparamref name="TWidth"/>: 1, 2 or 4 vectors),
    /// reusing each broadcast activation word for every vector; the JIT compiles one loop per width, without the
    /// unused vectors.
    /// </summary>
    // Fully optimized from the first call: a scoring service would otherwise run its first ~30 images on
    // unoptimized (tier-0) vector code, several times slower.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Block<TPop, TWidth>(in PixelTask t, ulong* a, ulong* w, int* counts, int full)
        where TPop : struct, IBytePopCount512
        where TWidth : struct, IVectorCount
    {
        // Locals, not fields of t: t is a reference the count stores might alias, so the JIT would reload every
        // field after each store.
        int words = t.Words, padded = t.PaddedOut, ky0 = t.Ky0, ky1 = t.Ky1, pixels = t.Pixels;
        // Columns kx0…kx1−1 of one kernel row are consecutive words in both the activations and the weights.
        int u0 = t.Kx0 * words, u1 = t.Kx1 * words;
        long aRowStride = (long)t.Width * words, pixelStep = t.PixelStep, countsStride = t.CountsStride, wRowStride = t.RowStrideW;
        a += (t.Iy0 * (long)t.Width + t.Ix0) * words;
        for (int p = 0; p < pixels; p++, a += pixelStep, counts += countsStride)
        {
            Vector512<byte> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            Vector512<ulong> tot0 = default, tot1 = default, tot2 = default, tot3 = default;
            int pending = 0;
            for (int ky = ky0; ky < ky1; ky++)
            {
                ulong* aRow = a + ky * aRowStride;
                ulong* wRow = w + ky * wRowStride;
                for (int u = u0; u < u1; u++)
                {
                    var av = Vector512.Create(aRow[u]);
                    ulong* b = wRow + (long)u * padded;
                    acc0 += TPop.Pop(av ^ Vector512.Load(b));
                    if (TWidth.Vectors >= 2)
                    {
                        acc1 += TPop.Pop(av ^ Vector512.Load(b + 8));
                    }
                    if (TWidth.Vectors >= 4)
                    {
                        acc2 += TPop.Pop(av ^ Vector512.Load(b + 16));
                        acc3 += TPop.Pop(av ^ Vector512.Load(b + 24));
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
            Store(counts, tot0 + Sad(acc0), full);
            if (TWidth.Vectors >= 2)
            {
                Store(counts + 8, tot1 + Sad(acc1), full);
            }
            if (TWidth.Vectors >= 4)
            {
                Store(counts + 16, tot2 + Sad(acc2), full);
                Store(counts + 24, tot3 + Sad(acc3), full);
            }
        }
    }

    /// <summary>Sums the 8 byte counts of each 64-bit lane (one output channel) into that lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Sad(Vector512<byte> bytes) =>
        Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(int* counts, Vector512<ulong> popcounts, int full)
    {
        var pop = Avx512F.ConvertToVector256Int32(popcounts.AsInt64());
        (Vector256.Create(full) - (pop + pop)).Store(counts);
    }

    /// <summary>Two 16-entry nibble lookups per byte (vpshufb, Avx512BW).</summary>
    internal readonly struct ShufflePopCount : IBytePopCount512
    {
        private static readonly Vector512<byte> Table = Create(i => BitOperations.PopCount((uint)i & 15));

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<byte> Pop(Vector512<ulong> x)
        {
            var low = Vector512.Create((byte)0x0F);
            return Avx512BW.Shuffle(Table, x.AsByte() & low)
                + Avx512BW.Shuffle(Table, Avx512BW.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);
        }
    }

    /// <summary>
    /// Two 64-entry lookups per byte (vpermb, Avx512Vbmi), which ignore index bits 6–7 and so need no masks:
    /// popcount(bits 0–5), plus popcount(bits 6–7) looked up after a 16-bit shift by 6, whose stray bits 2–5 from
    /// the neighbouring byte the second table ignores.
    /// </summary>
    internal readonly struct PermutePopCount : IBytePopCount512
    {
        private static readonly Vector512<byte> LowSix = Create(i => BitOperations.PopCount((uint)i));
        private static readonly Vector512<byte> LowTwo = Create(i => BitOperations.PopCount((uint)i & 3));

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<byte> Pop(Vector512<ulong> x) =>
            Avx512Vbmi.PermuteVar64x8(LowSix, x.AsByte())
            + Avx512Vbmi.PermuteVar64x8(LowTwo, Avx512BW.ShiftRightLogical(x.AsUInt16(), 6).AsByte());
    }

    /// <summary>A 64-byte table; vpshufb reads each 128-bit quarter with indices 0…15, so entries repeat every 16.</summary>
    private static Vector512<byte> Create(Func<int, int> entry)
    {
        Span<byte> table = stackalloc byte[64];
        for (int i = 0; i < 64; i++)
        {
            table[i] = (byte)entry(i);
        }
        return Vector512.Create<byte>(table);
    }
}
