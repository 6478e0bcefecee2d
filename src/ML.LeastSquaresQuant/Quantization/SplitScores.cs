using System;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// The scores of the candidate splits of <see cref="ExactTwoLevelSolver"/>, four or eight at a time where vectors
/// are hardware-accelerated: each lane does the scalar formula's operations in its order (no fused multiply-add),
/// and IEEE division is correctly rounded in either form, so the scores have the same bits on every path.
/// </summary>
internal static class SplitScores
{
    /// <summary>
    /// scores[j] = P²/t + (T − P)²/(n − t) for the split t = <paramref name="first"/> + j with lower sum
    /// P = prefixes[j] and total T, or −∞ where t is not in [1, n − 1] (no split there).
    /// </summary>
    public static void TwoBit(ReadOnlySpan<double> prefixes, Span<double> scores, int first, int n, double total)
    {
        int j = 0, count = prefixes.Length;
        if (Vector256.IsHardwareAccelerated)
        {
            var lanes = Vector256.Create(0.0, 1, 2, 3);
            var vn = Vector256.Create((double)n);
            var vtotal = Vector256.Create(total);
            var none = Vector256.Create(double.NegativeInfinity);
            for (; j + 4 <= count; j += 4)
            {
                // Small integers: exact in double.
                var t = Vector256.Create((double)(first + j)) + lanes;
                var rest = vn - t;
                var p = Vector256.Create<double>(prefixes.Slice(j, 4));
                var upper = vtotal - p;
                var score = p * p / t + upper * upper / rest;
                var valid = Vector256.GreaterThanOrEqual(t, Vector256<double>.One) & Vector256.GreaterThanOrEqual(rest, Vector256<double>.One);
                Vector256.ConditionalSelect(valid, score, none).CopyTo(scores.Slice(j, 4));
            }
        }
        for (; j < count; j++)
        {
            int t = first + j;
            if (t >= 1 && t <= n - 1)
            {
                double p = prefixes[j], upper = total - p;
                scores[j] = p * p / t + upper * upper / (n - t);
            }
            else
            {
                scores[j] = double.NegativeInfinity;
            }
        }
    }
}
