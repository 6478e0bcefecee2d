using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// AVX2 versions of the float32 inner loops of <see cref="ExactTwoLevelSolver"/> and
/// <see cref="FoldableReconstruction"/>. They make the same decisions and keep sums in double like the scalar
/// loops (only the order of additions differs), so the scalars are the same exact optimum. Where AVX-512 is
/// present, the row passes of the solver run 16 floats at a time with the same additions in the same order
/// (VectorKernels.Avx512.cs), so both give the same bits.
/// </summary>
internal static unsafe partial class VectorKernels
{
    /// <summary>Whether the kernels can run on this CPU (and are not turned off for a comparison).</summary>
    public static bool IsSupported => Avx2.IsSupported && !Disabled;

    /// <summary>Falls back to the scalar loops process-wide, for side-by-side benchmarks and tests.</summary>
    internal static bool Disabled { get; set; }

    /// <summary>For each 8-bit keep mask, the lane indices of the kept lanes first (left-packing by permutation).</summary>
    private static readonly int[] PackTable = BuildPackTable();

    private static int[] BuildPackTable()
    {
        var table = new int[256 * 8];
        for (int mask = 0; mask < 256; mask++)
        {
            int k = 0;
            for (int lane = 0; lane < 8; lane++)
            {
                if ((mask & (1 << lane)) != 0)
                {
                    table[mask * 8 + k++] = lane;
                }
            }
        }
        return table;
    }

    /// <summary>|row| into <paramref name="magnitudes"/>; (min, max, Σ) of the magnitudes; whether all are finite.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static (double Min, double Max, double Sum) LoadMagnitudes(ReadOnlySpan<float> row, Span<float> magnitudes, out bool finite)
    {
        if (Wide)
        {
            return LoadMagnitudes512(row, magnitudes, out finite);
        }
        int n = row.Length;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var vmin = Vector256.Create(float.PositiveInfinity);
        var vmax = Vector256<float>.Zero;
        var sum0 = Vector256<double>.Zero;
        var sum1 = Vector256<double>.Zero;
        var finiteMask = Vector256<float>.AllBitsSet;
        int i = 0;
        fixed (float* src = row, dst = magnitudes)
        {
            for (; i + 8 <= n; i += 8)
            {
                var v = Avx.LoadVector256(src + i);
                var a = Avx.And(v, absMask);
                Avx.Store(dst + i, a);
                vmin = Avx.Min(vmin, a);
                vmax = Avx.Max(vmax, a);
                sum0 = Avx.Add(sum0, Avx.ConvertToVector256Double(a.GetLower()));
                sum1 = Avx.Add(sum1, Avx.ConvertToVector256Double(a.GetUpper()));
                // x − x is 0 exactly for finite x and NaN for NaN and ±∞.
                finiteMask = Avx.And(finiteMask, Avx.CompareEqual(Avx.Subtract(v, v), Vector256<float>.Zero));
            }
        }
        double min = double.PositiveInfinity, max = 0, sum = HorizontalSum(Avx.Add(sum0, sum1));
        bool ok = Avx.MoveMask(finiteMask) == 0xFF;
        for (int lane = 0; lane < 8 && n >= 8; lane++)
        {
            min = Math.Min(min, vmin.GetElement(lane));
            max = Math.Max(max, vmax.GetElement(lane));
        }
        for (; i < n; i++)
        {
            float a = MathF.Abs(row[i]);
            magnitudes[i] = a;
            ok &= float.IsFinite(a);
            sum += a;
            min = Math.Min(min, a);
            max = Math.Max(max, a);
        }
        finite = ok;
        // With a NaN, Min/Max lanes are unreliable, but the caller rejects the row anyway.
        return (min, max, sum);
    }

    /// <summary>Σ (a − c) in double.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static double ShiftedSum(Span<float> a, double c)
    {
        if (Wide)
        {
            return ShiftedSum512(a, c);
        }
        int n = a.Length;
        var vc = Vector256.Create(c);
        var acc0 = Vector256<double>.Zero;
        var acc1 = Vector256<double>.Zero;
        int i = 0;
        fixed (float* p = a)
        {
            for (; i + 8 <= n; i += 8)
            {
                var v = Avx.LoadVector256(p + i);
                acc0 = Avx.Add(acc0, Avx.Subtract(Avx.ConvertToVector256Double(v.GetLower()), vc));
                acc1 = Avx.Add(acc1, Avx.Subtract(Avx.ConvertToVector256Double(v.GetUpper()), vc));
            }
        }
        double total = HorizontalSum(Avx.Add(acc0, acc1));
        for (; i < n; i++)
        {
            total += a[i] - c;
        }
        return total;
    }

    /// <summary>
    /// One bracketing pass (see <see cref="ExactTwoLevelSolver"/>): a &lt; lo joins the lower cluster, a &gt; hi the
    /// upper one, the rest is packed to the front. The double thresholds are turned into float thresholds that give
    /// exactly the same decisions for every float a.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static int Classify(Span<float> a, double c, double lo, double hi,
        ref int lowCount, ref double lowSum, ref int highCount, ref double highSum)
    {
        if (Wide)
        {
            return Classify512(a, c, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
        }
        int n = a.Length;
        float loF = SmallestFloatAtLeast(lo), hiF = LargestFloatAtMost(hi);
        // Compared in double: the conversion is exact, so v < loF ⟺ (double)v < (double)loF, and the masks come out
        // in the 64-bit lanes the sums need (no widening of float masks).
        var vlo = Vector256.Create((double)loF);
        var vhi = Vector256.Create((double)hiF);
        var vc = Vector256.Create(c);
        var lowAcc0 = Vector256<double>.Zero;
        var lowAcc1 = Vector256<double>.Zero;
        var highAcc0 = Vector256<double>.Zero;
        var highAcc1 = Vector256<double>.Zero;
        int kept = 0, i = 0, lows = 0, highs = 0;
        fixed (float* p = a)
        fixed (int* table = PackTable)
        {
            for (; i + 8 <= n; i += 8)
            {
                var v = Avx.LoadVector256(p + i);
                var x0 = Avx.ConvertToVector256Double(v.GetLower());
                var x1 = Avx.ConvertToVector256Double(v.GetUpper());
                var low0 = Avx.CompareLessThan(x0, vlo);
                var low1 = Avx.CompareLessThan(x1, vlo);
                var high0 = Avx.CompareGreaterThan(x0, vhi);
                var high1 = Avx.CompareGreaterThan(x1, vhi);
                var d0 = Avx.Subtract(x0, vc);
                var d1 = Avx.Subtract(x1, vc);
                lowAcc0 = Avx.Add(lowAcc0, Avx.And(d0, low0));
                lowAcc1 = Avx.Add(lowAcc1, Avx.And(d1, low1));
                highAcc0 = Avx.Add(highAcc0, Avx.And(d0, high0));
                highAcc1 = Avx.Add(highAcc1, Avx.And(d1, high1));

                int lowBits = Avx.MoveMask(low0) | Avx.MoveMask(low1) << 4;
                int highBits = Avx.MoveMask(high0) | Avx.MoveMask(high1) << 4;
                lows += BitOperations.PopCount((uint)lowBits);
                highs += BitOperations.PopCount((uint)highBits);
                int keep = ~(lowBits | highBits) & 0xFF;
                // kept ≤ i, so the 8-lane store ends at or before i + 8: it never overwrites unread elements.
                Avx.Store(p + kept, Avx2.PermuteVar8x32(v, Avx.LoadVector256(table + keep * 8)));
                kept += BitOperations.PopCount((uint)keep);
            }
        }
        lowCount += lows;
        highCount += highs;
        lowSum += HorizontalSum(Avx.Add(lowAcc0, lowAcc1));
        highSum += HorizontalSum(Avx.Add(highAcc0, highAcc1));
        return ExactTwoLevelSolver.ClassifyScalar(a, i, kept, c, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
    }

    /// <summary>
    /// output = Σ v_i·sign(r_{i−1}) with r_0 = input (sign(x) = +1 for x ≥ 0 including −0, −1 otherwise), the same
    /// float operations in the same order as the scalar loop, so the bits are identical.
    /// </summary>
    public static void Reconstruct(ReadOnlySpan<float> input, ReadOnlySpan<float> scalars, Span<float> output)
    {
        int n = input.Length, k = scalars.Length;
        fixed (float* x = input, o = output)
        {
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var rv = Avx.LoadVector256(x + i);
                var acc = Vector256<float>.Zero;
                for (int s = 0; s < k; s++)
                {
                    var v = Vector256.Create(scalars[s]);
                    var nonNegative = Avx.CompareGreaterThanOrEqual(rv, Vector256<float>.Zero);
                    var step = Avx.BlendVariable(Avx.Subtract(Vector256<float>.Zero, v), v, nonNegative);
                    acc = k == 1 ? step : Avx.Add(acc, step);
                    rv = Avx.Subtract(rv, step);
                }
                Avx.Store(o + i, acc);
            }
            for (; i < n; i++)
            {
                float rs = x[i], acc = 0;
                for (int s = 0; s < k; s++)
                {
                    float step = (rs >= 0 ? 1f : -1f) * scalars[s];
                    acc = k == 1 ? step : acc + step;
                    rs -= step;
                }
                o[i] = acc;
            }
        }
    }

    /// <summary>Mean of |row| accumulated in double (the <c>ls-1</c> scalar).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static double MeanAbs(ReadOnlySpan<float> row)
    {
        int n = row.Length;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var acc0 = Vector256<double>.Zero;
        var acc1 = Vector256<double>.Zero;
        int i = 0;
        fixed (float* p = row)
        {
            for (; i + 8 <= n; i += 8)
            {
                var a = Avx.And(Avx.LoadVector256(p + i), absMask);
                acc0 = Avx.Add(acc0, Avx.ConvertToVector256Double(a.GetLower()));
                acc1 = Avx.Add(acc1, Avx.ConvertToVector256Double(a.GetUpper()));
            }
        }
        double sum = HorizontalSum(Avx.Add(acc0, acc1));
        for (; i < n; i++)
        {
            sum += MathF.Abs(row[i]);
        }
        return sum / n;
    }

    /// <summary>output = grad where |x| ≤ bound, else 0 (NaN x gives 0): the straight-through gradient.</summary>
    public static void MaskInside(ReadOnlySpan<float> x, ReadOnlySpan<float> grad, Span<float> output, float bound)
    {
        int n = x.Length, i = 0;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var vb = Vector256.Create(bound);
        fixed (float* xp = x, gp = grad, op = output)
        {
            for (; i + 8 <= n; i += 8)
            {
                var inside = Avx.CompareLessThanOrEqual(Avx.And(Avx.LoadVector256(xp + i), absMask), vb);
                Avx.Store(op + i, Avx.And(Avx.LoadVector256(gp + i), inside));
            }
        }
        for (; i < n; i++)
        {
            output[i] = MathF.Abs(x[i]) <= bound ? grad[i] : 0f;
        }
    }

    private static float SmallestFloatAtLeast(double x)
    {
        float f = (float)x;
        return f < x ? MathF.BitIncrement(f) : f;
    }

    private static float LargestFloatAtMost(double x)
    {
        float f = (float)x;
        return f > x ? MathF.BitDecrement(f) : f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double HorizontalSum(Vector256<double> v) => v.GetElement(0) + v.GetElement(1) + v.GetElement(2) + v.GetElement(3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int HorizontalSum(Vector256<int> v) => Vector256.Sum(v);
}
