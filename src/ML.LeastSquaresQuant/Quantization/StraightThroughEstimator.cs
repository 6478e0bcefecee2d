using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
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
    /// <exception cref="ArgumentException">The two tensors differ in shape.</exception>
    public static Tensor Apply(Tensor input, Tensor quantized)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(quantized);
        if (!input.shape.AsSpan().SequenceEqual(quantized.shape))
        {
            throw new ArgumentException(
                $"The quantized tensor {TensorGuard.Shape(quantized)} must have the input's shape {TensorGuard.Shape(input)}.", nameof(quantized));
        }
        return PassThrough.apply(input, new Detached(quantized.detach()), 1.0);
    }

    /// <summary>
    /// The estimator where a gradient can flow to <paramref name="input"/>, passing it where |input| ≤
    /// <paramref name="bound"/> (the clamp before an activation quantizer and the STE's own window combined);
    /// otherwise (evaluation, no_grad, frozen inputs) <paramref name="quantized"/> itself.
    /// </summary>
    internal static Tensor ApplyIfNeeded(Tensor input, Tensor quantized, double bound = 1.0) =>
        torch.is_grad_enabled() && input.requires_grad
            ? PassThrough.apply(input, new Detached(quantized.detach()), bound)
            : quantized.detach();

    /// <summary>Wraps the forward value so that autograd does not register it as a second input.</summary>
    private sealed record Detached(Tensor Value);

    /// <summary>
    /// One autograd node instead of clamp, subtract and add (and their backward passes): the forward pass returns
    /// the quantized tensor as it is, the backward pass masks the gradient in one pass. On a ResNet activation this
    /// cut a quantizer's forward-plus-backward time several-fold.
    /// </summary>
    private sealed class PassThrough : torch.autograd.SingleTensorFunction<PassThrough>
    {
        private const string BoundKey = "bound";

        public override string Name => "LeastSquaresStraightThrough";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            ctx.save_for_backward([(Tensor)vars[0]]);
            ctx.save_data(BoundKey, vars[2]);
            return ((Detached)vars[1]).Value.alias();
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var input = ctx.get_saved_variables()[0];
            var bound = (float)(double)ctx.get_data(BoundKey);
            return [Mask(input, grad_output, bound), null!, null!];
        }
    }

    /// <summary>grad where |x| ≤ bound, 0 elsewhere (NaN included).</summary>
    internal static Tensor Mask(Tensor x, Tensor grad, float bound)
    {
        if (VectorKernels.IsSupported && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32
            && grad.dtype == ScalarType.Float32 && x.is_contiguous() && grad.is_contiguous()
            && x.shape.AsSpan().SequenceEqual(grad.shape))
        {
            return MaskOnCpu(x, grad, bound);
        }
        using var magnitude = x.detach().abs();
        using var inside = magnitude.le(bound);
        using var outside = inside.logical_not();
        return grad.masked_fill(outside, 0);
    }

    private static unsafe Tensor MaskOnCpu(Tensor x, Tensor grad, float bound)
    {
        var result = torch.empty_like(grad);
        long n = x.numel();
        const long chunk = 1 << 16;
        fixed (byte* xb = x.bytes, gb = grad.bytes, rb = result.bytes)
        {
            nint xp = (nint)xb, gp = (nint)gb, rp = (nint)rb;
            Parallel.For(0, (n + chunk - 1) / chunk, c =>
            {
                long start = c * chunk;
                int length = (int)Math.Min(chunk, n - start);
                VectorKernels.MaskInside(
                    new ReadOnlySpan<float>((float*)xp + start, length),
                    new ReadOnlySpan<float>((float*)gp + start, length),
                    new Span<float>((float*)rp + start, length), bound);
            });
        }
        GC.KeepAlive(x);
        GC.KeepAlive(grad);
        return result;
    }
}
