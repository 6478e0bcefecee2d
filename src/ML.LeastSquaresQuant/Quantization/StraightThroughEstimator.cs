using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// The straight-through estimator: the forward value is the quantized tensor, the backward pass hands the
/// incoming gradient through where |x| ≤ 1 and zeroes it elsewhere. Scalars are constants in backward.
/// </summary>
public static class StraightThroughEstimator
{
    /// <summary>Combines the input and its quantized value into one tensor with the STE's gradient.</summary>
    /// <param name="input">The tensor that was quantized (carries autograd history).</param>
    /// <param name="quantized">Its quantized value (its own history, if any, is ignored).</param>
    /// <returns>A tensor equal to <paramref name="quantized"/> whose gradient with respect to
    /// <paramref name="input"/> is 1 where |input| ≤ 1 and 0 elsewhere.</returns>
    public static Tensor Apply(Tensor input, Tensor quantized)
    {
        using var scope = NewDisposeScope();
        // clamp's backward passes the gradient on the closed interval [−1, 1]; y − y.detach() is exactly 0,
        // so the forward value is bit-for-bit the quantized tensor.
        var clipped = input.clamp(-1.0, 1.0);
        var zeroWithGradient = clipped - clipped.detach();
        return (quantized.detach() + zeroWithGradient).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Apply"/> when a gradient can flow to <paramref name="input"/>; otherwise (evaluation, no_grad,
    /// frozen inputs) <paramref name="quantized"/> itself, which is the same value without three element-wise passes.
    /// </summary>
    internal static Tensor ApplyIfNeeded(Tensor input, Tensor quantized) =>
        torch.is_grad_enabled() && input.requires_grad ? Apply(input, quantized) : quantized.detach();
}
