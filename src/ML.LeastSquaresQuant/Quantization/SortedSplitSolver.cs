using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// Exact <c>ls-2</c> and <c>ls-T</c> scalars for all rows at once with tensor operations on the rows' own device:
/// one sort per row, prefix sums in float64, and an argmax over every split. No host synchronisation.
/// </summary>
/// <remarks>
/// This is the GPU path (a sort is cheap there); on the CPU <see cref="ExactTwoLevelSolver"/> is much faster.
/// </remarks>
internal static class SortedSplitSolver
{
    /// <summary>[rows, 2] scalars (v1, v2) in float64 for rows [R, n].</summary>
    public static Tensor SolveTwoBit(Tensor rows)
    {
        using var scope = NewDisposeScope();
        long n = rows.shape[1];
        var sorted = rows.abs().sort(1).Values.to_type(ScalarType.Float64);
        if (n == 1)
        {
            return torch.cat([sorted, torch.zeros_like(sorted)], 1).MoveToOuterDisposeScope();
        }
        var min = sorted.narrow(1, 0, 1);
        var prefix = (sorted - min).cumsum(1);
        var total = prefix.narrow(1, n - 1, 1);
        var lower = prefix.narrow(1, 0, n - 1);           // sums of the t smallest, t = 1..n−1
        var upper = total - lower;
        var t = torch.arange(1, n, dtype: ScalarType.Float64, device: rows.device);
        var score = lower * lower / t + upper * upper / (n - t);
        var best = score.argmax(1, true);
        var bestLower = lower.gather(1, best);
        var bestT = best.to_type(ScalarType.Float64) + 1;
        var low = min + bestLower / bestT;
        var high = min + (total - bestLower) / (n - bestT);
        return torch.cat([(low + high) * 0.5, (high - low) * 0.5], 1).MoveToOuterDisposeScope();
    }

    /// <summary>[rows, 1] scalar v in float64 for rows [R, n].</summary>
    public static Tensor SolveTernary(Tensor rows)
    {
        using var scope = NewDisposeScope();
        long n = rows.shape[1];
        var sorted = rows.abs().sort(1).Values.to_type(ScalarType.Float64);
        var prefix = sorted.cumsum(1);
        var total = prefix.narrow(1, n - 1, 1);
        // Sum of the t smallest for t = 0..n−1 (t = 0: everything in the upper level).
        var lower = torch.cat([torch.zeros_like(total), prefix.narrow(1, 0, n - 1)], 1);
        var upper = total - lower;
        var count = n - torch.arange(0, n, dtype: ScalarType.Float64, device: rows.device);
        var score = upper * upper / count;
        var best = score.argmax(1, true);
        var v = upper.gather(1, best) / (n - best.to_type(ScalarType.Float64)) * 0.5;
        return v.MoveToOuterDisposeScope();
    }
}
