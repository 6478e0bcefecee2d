using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// The scalars of one row held in CPU memory, for every scheme: the one CPU implementation behind
/// <see cref="LeastSquaresQuantizer.ComputeScalars"/> (which runs it on each row in parallel) and the ML.NET
/// <c>LsQuantize</c> transform (which runs it on each data-view row without building a tensor). Sums are kept in
/// double, so a float32 row loses nothing to the order of its additions.
/// </summary>
internal static class RowScalars
{
    /// <summary>Computes the scalars of <paramref name="row"/> into <paramref name="result"/>.</summary>
    /// <param name="row">The values, n ≥ 1 of them.</param>
    /// <param name="scheme">A quantized scheme; its <see cref="QuantScheme.ScalarCount"/> is the length of <paramref name="result"/>.</param>
    /// <param name="scratch">Working space of n elements (magnitudes or the greedy residual); overwritten.</param>
    /// <param name="result">Receives v (ls-1, ls-T), v1 and v2 (ls-2) or v1..vk (gf-k); NaN when the row is not finite.</param>
    /// <returns>False when the row holds NaN or ±∞.</returns>
    public static bool Solve<T>(ReadOnlySpan<T> row, QuantScheme scheme, Span<T> scratch, Span<double> result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool finite;
        switch (scheme.Kind)
        {
            case QuantSchemeKind.LeastSquares1:
                result[0] = MeanAbs(row);
                // A double sum of float magnitudes cannot overflow, so the mean is finite exactly when the row is.
                finite = double.IsFinite(result[0]);
                break;
            case QuantSchemeKind.GreedyFoldable:
                finite = Greedy(row, scratch, result);
                break;
            case QuantSchemeKind.LeastSquares2:
            {
                var stats = ExactTwoLevelSolver.LoadMagnitudesForTwoBit(row, scratch, out finite);
                if (finite)
                {
                    (result[0], result[1]) = ExactTwoLevelSolver.SolveTwoBit<T>(scratch, stats.Min, stats.Max, stats.Sum, stats.ShiftedSum);
                }
                break;
            }
            case QuantSchemeKind.LeastSquaresTernary:
            {
                var stats = ExactTwoLevelSolver.LoadMagnitudes(row, scratch, out finite);
                if (finite)
                {
                    result[0] = ExactTwoLevelSolver.SolveTernary<T>(scratch, stats.Max, stats.Sum);
                }
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "Full precision has no scalars.");
        }
        if (!finite)
        {
            result.Fill(double.NaN);
        }
        return finite;
    }

    /// <summary>Mean of |row| summed in double: the ls-1 scalar and each greedy step.</summary>
    private static double MeanAbs<T>(ReadOnlySpan<T> row) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && VectorKernels.IsSupported)
        {
            return VectorKernels.MeanAbs(MemoryMarshal.Cast<T, float>(row));
        }
        double sum = 0;
        foreach (var x in row)
        {
            sum += double.CreateTruncating(T.Abs(x));
        }
        return sum / row.Length;
    }

    /// <summary>gf-k: v_i = mean |r_{i−1}|, r_i = r_{i−1} − v_i·sign(r_{i−1}), with r_0 the row.</summary>
    private static bool Greedy<T>(ReadOnlySpan<T> row, Span<T> residual, Span<double> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        row.CopyTo(residual);
        for (int i = 0; i < result.Length; i++)
        {
            double v = MeanAbs<T>(residual);
            if (!double.IsFinite(v))
            {
                return false;
            }
            result[i] = v;
            if (i + 1 < result.Length)
            {
                // The step uses v as the model will store it (in T), so the next residual is what reconstruction sees.
                T step = T.CreateTruncating(v);
                for (int j = 0; j < residual.Length; j++)
                {
                    residual[j] -= residual[j] >= T.Zero ? step : -step;
                }
            }
        }
        return true;
    }
}
