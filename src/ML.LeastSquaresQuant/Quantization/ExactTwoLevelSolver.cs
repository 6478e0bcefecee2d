using System;
using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// Exact least-squares scalars for <c>ls-2</c> and <c>ls-T</c> on one row of magnitudes, without sorting the row.
/// </summary>
/// <remarks>
/// Both problems are optimal 1-D two-cluster splits of the sorted magnitudes a (docs/algorithms.md, section
/// "Exact ls-2 and ls-T"). The split's threshold m(t) never decreases with the split index t, and every global
/// optimum t* has a[t*−1] ≤ m(t*) ≤ a[t*].
/// So once every optimum is known to satisfy t* ≥ k, each element below m(k) is certainly in the lower cluster
/// (and symmetrically from the top). Alternating these two bounds decides almost every element in two or three
/// passes; the few undecided elements, which lie between the bounds, are then sorted and every split among them
/// is scored exactly. Where the bounds stall (several local optima) the sort simply covers more elements, so
/// the result is always the exact optimum. Sums are kept in double; ls-2 accumulates a − min so that
/// nearly-constant rows keep their precision.
/// </remarks>
internal static class ExactTwoLevelSolver
{
    /// <summary>Undecided elements at or below this count are sorted instead of bracketed further.</summary>
    private const int SortThreshold = 48;

    private const int MaxBracketPasses = 64;

    /// <summary>
    /// Writes |row| into <paramref name="magnitudes"/> and returns (min, max, sum) of the magnitudes;
    /// <paramref name="finite"/> is false when the row holds NaN or ±∞.
    /// </summary>
    public static (double Min, double Max, double Sum) LoadMagnitudes<T>(ReadOnlySpan<T> row, Span<T> magnitudes, out bool finite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && VectorKernels.IsSupported)
        {
            return VectorKernels.LoadMagnitudes(
                MemoryMarshal.Cast<T, float>(row), MemoryMarshal.Cast<T, float>(magnitudes), out finite);
        }
        double min = double.PositiveInfinity, max = 0, sum = 0;
        bool ok = true;
        for (int i = 0; i < row.Length; i++)
        {
            T a = T.Abs(row[i]);
            double v = double.CreateTruncating(a);
            ok &= double.IsFinite(v);
            magnitudes[i] = a;
            sum += v;
            if (v < min) { min = v; }
            if (v > max) { max = v; }
        }
        finite = ok;
        return (min, max, sum);
    }

    /// <summary>
    /// <see cref="LoadMagnitudes"/> plus Σ (a − min) as <see cref="SolveTwoBit{T}"/>
    /// needs it: one pass fewer where AVX-512 allows, the same bits either way.
    /// </summary>
    public static (double Min, double Max, double Sum, double ShiftedSum) LoadMagnitudesForTwoBit<T>(ReadOnlySpan<T> row,
        Span<T> magnitudes, out bool finite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && VectorKernels.FusesShiftedSum)
        {
            return VectorKernels.LoadMagnitudesAndShiftedSum(
                MemoryMarshal.Cast<T, float>(row), MemoryMarshal.Cast<T, float>(magnitudes), out finite);
        }
        var (min, max, sum) = LoadMagnitudes(row, magnitudes, out finite);
        return (min, max, sum, finite ? ShiftedSum(magnitudes[..row.Length], min) : double.NaN);
    }

    /// <summary>
    /// The exact <c>ls-2</c> scalars (v1, v2) of a row, given its magnitudes (overwritten as scratch) and their
    /// statistics, <paramref name="shiftedSum"/> = Σ (a − min) (<see cref="LoadMagnitudesForTwoBit"/>).
    /// </summary>
    public static (double V1, double V2) SolveTwoBit<T>(Span<T> a, double min, double max, double sum, double shiftedSum)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length;
        if (n == 1 || !(max > min))
        {
            // One element or equal magnitudes: both clusters collapse onto the mean.
            return (sum / n, 0.0);
        }

        double c = min;
        double total = shiftedSum; // Σ (a − c), summed apart so the shifted sums share one rounding path.

        // Every optimum has 1 ≤ t* ≤ n−1, so m(1) ≤ m* ≤ m(n−1); both are known from min, max and the sum.
        double lo = c + 0.5 * (total / (n - 1));
        double hi = c + 0.5 * ((total - (max - c)) / (n - 1) + (max - c));

        int lowCount = 0, highCount = 0;
        double lowSum = 0, highSum = 0; // shifted sums of the decided elements
        int undecided = n;
        for (int pass = 0; pass < MaxBracketPasses && undecided > SortThreshold; pass++)
        {
            int kept = Classify(a[..undecided], c, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
            if (kept == undecided)
            {
                break;
            }
            undecided = kept;
            if (lowCount > 0 && lowCount < n)
            {
                lo = Math.Max(lo, c + 0.5 * (lowSum / lowCount + (total - lowSum) / (n - lowCount)));
            }
            if (highCount > 0 && highCount < n)
            {
                hi = Math.Min(hi, c + 0.5 * ((total - highSum) / (n - highCount) + highSum / highCount));
            }
        }

        var rest = a[..undecided];
        MagnitudeSort.Sort(rest);
        double bestLower = 0;
        int bestT = -1;
        double[] rented = ArrayPool<double>.Shared.Rent(2 * (undecided + 1));
        try
        {
            // The prefix sums in sorted order (one chain, as before), then every split's score at once: scored one
            // by one, the two divisions per split dominated the solve after the sort.
            var prefixes = rented.AsSpan(0, undecided + 1);
            var scores = rented.AsSpan(undecided + 1, undecided + 1);
            double prefix = lowSum;
            for (int j = 0; j <= undecided; j++)
            {
                prefixes[j] = prefix;
                if (j < undecided)
                {
                    prefix += double.CreateTruncating(rest[j]) - c;
                }
            }
            SplitScores.TwoBit(prefixes, scores, lowCount, n, total);
            double bestScore = double.NegativeInfinity;
            for (int j = 0; j <= undecided; j++)
            {
                // Strictly greater: the first best split wins, as in the one-by-one loop.
                if (scores[j] > bestScore)
                {
                    bestScore = scores[j];
                    bestT = lowCount + j;
                    bestLower = prefixes[j];
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
        if (bestT < 0)
        {
            return (sum / n, 0.0);
        }
        double low = c + bestLower / bestT;
        double high = c + (total - bestLower) / (n - bestT);
        return (0.5 * (low + high), 0.5 * (high - low));
    }

    /// <summary>
    /// The exact <c>ls-T</c> scalar v of a row (levels 0 and 2v for |x|), given its magnitudes (overwritten as scratch).
    /// </summary>
    public static double SolveTernary<T>(Span<T> a, double max, double sum)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length;
        if (!(sum > 0))
        {
            return 0.0;
        }

        // Threshold m(t) = U(t)/2; every optimum has 0 ≤ t* ≤ n−1, so mean/2 ≤ m* ≤ max/2.
        double lo = 0.5 * sum / n;
        double hi = 0.5 * max;
        int lowCount = 0, highCount = 0;
        double lowSum = 0, highSum = 0;
        int undecided = n;
        for (int pass = 0; pass < MaxBracketPasses && undecided > SortThreshold; pass++)
        {
            int kept = Classify(a[..undecided], 0, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
            if (kept == undecided)
            {
                break;
            }
            undecided = kept;
            if (lowCount < n)
            {
                lo = Math.Max(lo, 0.5 * (sum - lowSum) / (n - lowCount));
            }
            if (highCount > 0)
            {
                hi = Math.Min(hi, 0.5 * highSum / highCount);
            }
        }

        var rest = a[..undecided];
        MagnitudeSort.Sort(rest);
        double bestScore = double.NegativeInfinity, bestUpper = 0;
        int bestT = -1;
        double prefix = lowSum;
        for (int j = 0; j <= undecided; j++)
        {
            int t = lowCount + j;
            if (t <= n - 1)
            {
                double upper = sum - prefix;
                double score = upper * upper / (n - t);
                if (score > bestScore)
                {
                    bestScore = score;
                    bestT = t;
                    bestUpper = upper;
                }
            }
            if (j < undecided)
            {
                prefix += double.CreateTruncating(rest[j]);
            }
        }
        return bestT < 0 ? 0.0 : 0.5 * bestUpper / (n - bestT);
    }

    /// <summary>
    /// One bracketing pass: elements below <paramref name="lo"/> join the lower cluster and elements above
    /// <paramref name="hi"/> the upper one (counts and sums of a − c); the rest is compacted to the front.
    /// Branch-free: early passes decide a large, unpredictable share of the elements, and mispredicted branches
    /// made this loop several times slower.
    /// </summary>
    private static int Classify<T>(Span<T> a, double c, double lo, double hi,
        ref int lowCount, ref double lowSum, ref int highCount, ref double highSum)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && VectorKernels.IsSupported)
        {
            return VectorKernels.Classify(MemoryMarshal.Cast<T, float>(a), c, lo, hi,
                ref lowCount, ref lowSum, ref highCount, ref highSum);
        }
        return ClassifyScalar(a, 0, 0, c, lo, hi, ref lowCount, ref lowSum, ref highCount, ref highSum);
    }

    /// <summary>
    /// The scalar bracketing loop over a[start..], packing undecided elements from index <paramref name="kept"/>
    /// (the vector kernel finishes its row with it).
    /// </summary>
    internal static int ClassifyScalar<T>(Span<T> a, int start, int kept, double c, double lo, double hi,
        ref int lowCount, ref double lowSum, ref int highCount, ref double highSum)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lows = 0, highs = 0;
        double lowAcc = 0, highAcc = 0;
        for (int i = start; i < a.Length; i++)
        {
            T value = a[i];
            double v = double.CreateTruncating(value);
            double shifted = v - c;
            int low = BitOf(v < lo), high = BitOf(v > hi);
            lows += low;
            highs += high;
            lowAcc += shifted * low;
            highAcc += shifted * high;
            a[kept] = value;
            kept += 1 - (low | high);
        }
        lowCount += lows;
        lowSum += lowAcc;
        highCount += highs;
        highSum += highAcc;
        return kept;
    }

    /// <summary>Σ (a − c) in double.</summary>
    private static double ShiftedSum<T>(Span<T> a, double c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && VectorKernels.IsSupported)
        {
            return VectorKernels.ShiftedSum(MemoryMarshal.Cast<T, float>(a), c);
        }
        double total = 0;
        foreach (var v in a)
        {
            total += double.CreateTruncating(v) - c;
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BitOf(bool value) => Unsafe.As<bool, byte>(ref value);
}
