using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// The AVX-512 row passes of <see cref="ExactTwoLevelSolver"/>: 16 floats per step, and the same double additions
/// in the same order as the AVX2 loops, so both paths give the same bits (a 512-bit accumulator holds the AVX2
/// loop's two 256-bit accumulators side by side; the 16 floats are added as its two groups of 8, one after the
/// other). Where the AVX2 loops add +0.0 for an element outside a cluster, the bracketing pass here leaves the lane's
/// sum as it is: the same value, since the sums are of non-negative terms and never −0.
/// </summary>
internal static unsafe partial class VectorKernels
{
    /// <summary>Whether the AVX-512 row passes run (and are not turned off to compare them with the AVX2 loops).</summary>
    private static bool Wide => Avx512F.IsSupported && !WideDisabled;

    /// <summary>Runs the AVX2 loops on an AVX-512 machine process-wide, for tests and side-by-side benchmarks.</summary>
    internal static bool WideDisabled { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double Min, double Max, double Sum) LoadMagnitudes512(ReadOnlySpan<float> row, Span<float> magnitudes, out bool finite)
    {
        int n = row.Length, i = 0;
        var vmin = Vector512.Create(float.PositiveInfinity);
        var vmax = Vector512<float>.Zero;
        var sum = Vector512<double>.Zero;
        var finiteMask = Vector512<float>.AllBitsSet;
        fixed (float* src = row, dst = magnitudes)
        {
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(src + i);
                var a = Vector512.Abs(v);
                a.Store(dst + i);
                vmin = Vector512.Min(vmin, a);
                vmax = Vector512.Max(vmax, a);
                sum += Avx512F.ConvertToVector512Double(a.GetLower());
                sum += Avx512F.ConvertToVector512Double(a.GetUpper());
                // x − x is 0 exactly for finite x and NaN for NaN and ±∞.
                finiteMask &= Vector512.Equals(v - v, Vector512<float>.Zero);
            }
            if (i + 8 <= n)
            {
                var v = Vector256.Load(src + i);
                var a = Vector256.Abs(v);
                a.Store(dst + i);
                vmin = Vector512.Min(vmin, Vector512.Create(a, a));
                vmax = Vector512.Max(vmax, Vector512.Create(a, a));
                sum += Avx512F.ConvertToVector512Double(a);
                finiteMask &= Vector512.Create(Vector256.Equals(v - v, Vector256<float>.Zero), Vector256<float>.AllBitsSet);
                i += 8;
            }
        }
        double min = double.PositiveInfinity, max = 0, total = Sum(sum);
        // Compared as integers: all-ones lanes are NaN as floats.
        bool ok = finiteMask.AsInt32() == Vector512<int>.AllBitsSet;
        for (int lane = 0; lane < 16 && n >= 8; lane++)
        {
            min = Math.Min(min, vmin.GetElement(lane));
            max = Math.Max(max, vmax.GetElement(lane));
        }
        for (; i < n; i++)
        {
            float a = MathF.Abs(row[i]);
            magnitudes[i] = a;
            ok &= float.IsFinite(a);
            total += a;
            min = Math.Min(min, a);
            max = Math.Max(max, a);
        }
        finite = ok;
        return (min, max, total);
    }

    /// <summary>Whether <see cref="LoadMagnitudesAndShiftedSum"/> can run (AVX-512, not turned off).</summary>
    public static bool FusesShiftedSum => IsSupported && Wide;

    /// <summary>
    /// <see cref="LoadMagnitudes"/> and <see cref="ShiftedSum"/> of the magnitudes about their minimum, with the same
    /// bits, in two passes instead of three: a fast pass finds the minimum (and whether the row is finite), and the
    /// pass that stores the magnitudes then runs both sums, whose chains of additions overlap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double Min, double Max, double Sum, double ShiftedSum) LoadMagnitudesAndShiftedSum(
        ReadOnlySpan<float> row, Span<float> magnitudes, out bool finite)
    {
        int n = row.Length, i = 0;
        var vmin = Vector512.Create(float.PositiveInfinity);
        var finiteMask = Vector512<float>.AllBitsSet;
        fixed (float* src = row, dst = magnitudes)
        {
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(src + i);
                vmin = Vector512.Min(vmin, Vector512.Abs(v));
                finiteMask &= Vector512.Equals(v - v, Vector512<float>.Zero);
            }
            double min = double.PositiveInfinity;
            for (int lane = 0; lane < 16 && i > 0; lane++)
            {
                min = Math.Min(min, vmin.GetElement(lane));
            }
            bool ok = finiteMask.AsInt32() == Vector512<int>.AllBitsSet;
            for (int j = i; j < n; j++)
            {
                float a = MathF.Abs(row[j]);
                ok &= float.IsFinite(a);
                min = Math.Min(min, a);
            }
            finite = ok;
            if (!ok)
            {
                return (double.NaN, double.NaN, double.NaN, double.NaN);
            }

            var vc = Vector512.Create(min);
            var vmax = Vector512<float>.Zero;
            var sum = Vector512<double>.Zero;
            var shifted = Vector512<double>.Zero;
            for (i = 0; i + 16 <= n; i += 16)
            {
                var a = Vector512.Abs(Vector512.Load(src + i));
                a.Store(dst + i);
                vmax = Vector512.Max(vmax, a);
                var a0 = Avx512F.ConvertToVector512Double(a.GetLower());
                var a1 = Avx512F.ConvertToVector512Double(a.GetUpper());
                sum += a0;
                shifted += a0 - vc;
                sum += a1;
                shifted += a1 - vc;
            }
            if (i + 8 <= n)
            {
                var a = Vector256.Abs(Vector256.Load(src + i));
                a.Store(dst + i);
                vmax = Vector512.Max(vmax, Vector512.Create(a, a));
                var a0 = Avx512F.ConvertToVector512Double(a);
                sum += a0;
                shifted += a0 - vc;
                i += 8;
            }
            double max = 0, total = Sum(sum), shiftedTotal = Sum(shifted);
            for (int lane = 0; lane < 16 && n >= 8; lane++)
            {
                max = Math.Max(max, vmax.GetElement(lane));
            }
            for (; i < n; i++)
            {
                float a = MathF.Abs(row[i]);
                magnitudes[i] = a;
                total += a;
                shiftedTotal += a - min;
                max = Math.Max(max, a);
            }
            return (min, max, total, shiftedTotal);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double ShiftedSum512(Span<float> a, double c)
    {
        int n = a.Length, i = 0;
        var vc = Vector512.Create(c);
        var acc = Vector512<double>.Zero;
        fixed (float* p = a)
        {
            for (; i + 8 <= n; i += 8)
            {
                acc += Avx512F.ConvertToVector512Double(Vector256.Load(p + i)) - vc;
            }
        }
        double total = Sum(acc);
        for (; i < n; i++)
        {
            total += a[i] - c;
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Classify512(Span<float> a, double c, double lo, double hi,
        ref int lowCount, ref double lowSum, ref int highCount, ref double highSum)
    {
        int n = a.Length, kept = 0, i = 0;
        var vlo = Vector512.Create(SmallestFloatAtLeast(lo));
        var vhi = Vector512.Create(LargestFloatAtMost(hi));
        var vc = Vector512.Create(c);
        var vloD = Vector512.Create((double)vlo.ToScalar());
        var vhiD = Vector512.Create((double)vhi.ToScalar());
        var lowAcc = Vector512<double>.Zero;
        var highAcc = Vector512<double>.Zero;
        var lowLanes = Vector512<int>.Zero;
        var highLanes = Vector512<int>.Zero;
        fixed (float* p = a)
        {
            // Pointers rather than indices: with indices the JIT kept both counters in memory, and the store
            // address waited on a store-to-load round trip every step.
            float* src = p, dst = p, end = p + (n & ~15);
            for (; src < end; src += 16)
            {
                var v = Vector512.Load(src);
                var low = Vector512.LessThan(v, vlo).AsInt32();
                var high = Vector512.GreaterThan(v, vhi).AsInt32();
                lowLanes -= low;
                highLanes -= high;
                // The two groups of 8, first then second, as the AVX2 loop adds them. The float comparisons
                // repeated on the exact doubles give the same decisions, as masks the additions can use directly
                // (a masked-out lane keeps its sum, as adding the AVX2 loop's +0.0 does).
                var v0 = Avx512F.ConvertToVector512Double(v.GetLower());
                var v1 = Avx512F.ConvertToVector512Double(v.GetUpper());
                var d0 = v0 - vc;
                var d1 = v1 - vc;
                lowAcc = Vector512.ConditionalSelect(Vector512.LessThan(v0, vloD), lowAcc + d0, lowAcc);
                highAcc = Vector512.ConditionalSelect(Vector512.GreaterThan(v0, vhiD), highAcc + d0, highAcc);
                lowAcc = Vector512.ConditionalSelect(Vector512.LessThan(v1, vloD), lowAcc + d1, lowAcc);
                highAcc = Vector512.ConditionalSelect(Vector512.GreaterThan(v1, vhiD), highAcc + d1, highAcc);
                var keep = ~(low | high).AsSingle();
                // dst ≤ src, so the 16 lanes stored end at or before src + 16: past the kept ones they overwrite
                // only elements already read.
                Avx512F.Compress(Vector512<float>.Zero, keep, v).Store(dst);
                dst += BitOperations.PopCount((uint)keep.ExtractMostSignificantBits());
            }
            i = (int)(src - p);
            kept = (int)(dst - p);
            if (i + 8 <= n)
            {
                var v = Vector256.Load(p + i);
                var low = Vector256.LessThan(v, vlo.GetLower()).AsInt32();
                var high = Vector256.GreaterThan(v, vhi.GetLower()).AsInt32();
                lowLanes -= Vector512.Create(low, Vector256<int>.Zero);
                highLanes -= Vector512.Create(high, Vector256<int>.Zero);
                var d = Avx512F.ConvertToVector512Double(v) - vc;
                lowAcc += d & Widen(low);
                highAcc += d & Widen(high);
                var keep = Vector512.Create(~(low | high).AsSingle(), Vector256<float>.Zero);
                Avx512F.Compress(Vector512<float>.Zero, keep, Vector512.Create(v, v)).GetLower().Store(p + kept);
                kept += BitOperations.PopCount((uint)keep.ExtractMostSignificantBits());
                i += 8;
            }
        }
        lowCount += Vector512.Sum(lowLanes);
        highCount += Vector512.Sum(highLanes);
        lowSum += Sum(lowAcc);
        highSum += Sum(highAcc);
        return ExactTwoLevelSolver.ClassifyScalar(a, i, kept, c, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
    }

    /// <summary>Eight 32-bit lane masks as eight 64-bit lane masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Widen(Vector256<int> mask) => Avx512F.ConvertToVector512Int64(mask).AsDouble();

    /// <summary>The AVX2 loops' final sum of their two accumulators: lanes (0…3) + (4…7), then left to right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Sum(Vector512<double> v) => HorizontalSum(v.GetLower() + v.GetUpper());
}
