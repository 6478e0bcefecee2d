using System;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>The packing of one word of channels into its sign-plane bits (the foldable rule, float32 operations).</summary>
internal sealed partial class PackedActivations
{
    /// <summary>
    /// <see cref="SignBitsAndStep"/> for all kA planes of a word of 16, 32, 48 or 64 channels (<paramref name="count"/>;
    /// <typeparamref name="TWidth"/> 1, 2 or 4 registers of 16), the residuals kept in registers and each plane's
    /// word written once (the same float32 operations, so the same bits).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void PackWord512<TWidth>(float* values, int count, float* v, int planes, ulong* target, long planeStride)
        where TWidth : struct, IVectorCount
    {
        var r0 = Vector512.Load(values);
        var r1 = TWidth.Vectors >= 2 ? Vector512.Load(values + 16) : default;
        var r2 = TWidth.Vectors >= 4 ? Vector512.Load(values + 32) : default;
        // 48 channels: the fourth register holds no channels, and its bits are dropped.
        var r3 = TWidth.Vectors >= 4 && count == 64 ? Vector512.Load(values + 48) : default;
        ulong used = count == 64 ? ulong.MaxValue : (1UL << count) - 1;
        for (int i = 0; i < planes; i++)
        {
            var pos = Vector512.Create(v[i]);
            var neg = Vector512.Create(-v[i]);
            var m0 = Vector512.GreaterThanOrEqual(r0, Vector512<float>.Zero);
            ulong bits = m0.ExtractMostSignificantBits();
            r0 -= Vector512.ConditionalSelect(m0, pos, neg);
            if (TWidth.Vectors >= 2)
            {
                var m1 = Vector512.GreaterThanOrEqual(r1, Vector512<float>.Zero);
                bits |= m1.ExtractMostSignificantBits() << 16;
                r1 -= Vector512.ConditionalSelect(m1, pos, neg);
            }
            if (TWidth.Vectors >= 4)
            {
                var m2 = Vector512.GreaterThanOrEqual(r2, Vector512<float>.Zero);
                var m3 = Vector512.GreaterThanOrEqual(r3, Vector512<float>.Zero);
                bits |= m2.ExtractMostSignificantBits() << 32 | m3.ExtractMostSignificantBits() << 48;
                r2 -= Vector512.ConditionalSelect(m2, pos, neg);
                r3 -= Vector512.ConditionalSelect(m3, pos, neg);
            }
            target[i * planeStride] = bits & used;
        }
    }

    /// <summary>
    /// <see cref="SignBitsAndStep"/> for one or two planes (<paramref name="planes"/>) of a word of
    /// <paramref name="count"/> channels, a multiple of 8, 8 at a time with the residual in one register and each
    /// plane's bits in a register (the same float32 operations, so the same bits).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void PackWord256(float* values, int count, float* v, int planes, ulong* target, long planeStride)
    {
        var pos0 = Vector256.Create(v[0]);
        var neg0 = Vector256.Create(-v[0]);
        ulong bits0 = 0, bits1 = 0;
        for (int g = 0; g < count; g += 8)
        {
            var r = Vector256.Load(values + g);
            var nonNegative = Vector256.GreaterThanOrEqual(r, Vector256<float>.Zero);
            bits0 |= (ulong)nonNegative.ExtractMostSignificantBits() << g;
            if (planes == 2)
            {
                r -= Vector256.ConditionalSelect(nonNegative, pos0, neg0);
                nonNegative = Vector256.GreaterThanOrEqual(r, Vector256<float>.Zero);
                bits1 |= (ulong)nonNegative.ExtractMostSignificantBits() << g;
            }
        }
        target[0] = bits0;
        if (planes == 2)
        {
            target[planeStride] = bits1;
        }
    }

    /// <summary>
    /// Returns the sign bits (bit j set where r_j ≥ 0) of up to 64 residuals and applies r −= sign·v in place,
    /// with the float32 operations of the foldable reconstruction (step = ±v; r = r − step).
    /// </summary>
    // Fully optimized from the first call: a scoring service would otherwise run its first ~30 images on
    // unoptimized (tier-0) vector code, several times slower.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static ulong SignBitsAndStep(Span<float> residual, float v)
    {
        ulong bits = 0;
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var pos = Vector256.Create(v);
            var neg = Vector256.Create(-v);
            for (; j + 8 <= residual.Length; j += 8)
            {
                var r = Vector256.Create<float>(residual.Slice(j, 8));
                var nonNegative = Vector256.GreaterThanOrEqual(r, Vector256<float>.Zero);
                var step = Vector256.ConditionalSelect(nonNegative, pos, neg);
                (r - step).CopyTo(residual.Slice(j, 8));
                bits |= (ulong)nonNegative.ExtractMostSignificantBits() << j;
            }
        }
        for (; j < residual.Length; j++)
        {
            bool nonNegative = residual[j] >= 0;
            residual[j] -= nonNegative ? v : -v;
            bits |= (nonNegative ? 1UL : 0UL) << j;
        }
        return bits;
    }
}
