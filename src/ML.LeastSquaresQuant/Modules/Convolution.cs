using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// Every 2-D convolution of the library's networks. On the CPU it routes around defects of the oneDNN 3.7 kernels
/// inside libtorch 2.10 (TorchSharp 0.107) that give wrong values or corrupt the heap without raising an error
/// (docs/robustness.md has the repro and the measurements):
/// <list type="bullet">
/// <item>NCHW convolutions: forward values and input gradients are wrong for many channel counts (for example
/// 17 → 16 or 20 → 50 channels, 3×3 and 5×5), on AVX2 and AVX-512 alike. Channels-last (NHWC) runs other
/// kernels, which were right in every configuration of the sweep; so every convolution with a kernel larger than
/// 1×1 runs channels-last here.</item>
/// <item>1×1 convolutions: the weight gradient overruns a per-thread workspace when there are fewer input channels
/// than the vector block (heap corruption on AVX-512, wrong values on AVX2). A 1×1 convolution is a matrix product
/// over channels, so it is computed as one (subsampling first for a stride), which never reaches those kernels.</item>
/// <item>One input channel: NCHW and NHWC are the same memory and libtorch picks the NCHW kernels again, so such
/// convolutions are computed as unfold + matrix product.</item>
/// <item>Channels-last forward values are wrong too for some shapes on AVX2 (for example 48 output channels on 6×6
/// images, batch 2), with no rule we could find. So the first time a shape (channels, kernel, stride, padding, image
/// size, batch, gradient mode) is seen, its channels-last forward pass is checked once on random data against unfold
/// + matrix product (no oneDNN convolution kernel); shapes that fail are computed that way from then on.</item>
/// </list>
/// Results equal a plain convolution up to float32 rounding; other devices get the plain convolution.
/// </summary>
internal static class Convolution
{
    /// <summary>Plain libtorch convolutions everywhere, process-wide: for benchmarks that measure what the routing
    /// costs, and for the tests that show the defects still exist.</summary>
    internal static bool Plain { get; set; }

    /// <summary>conv2d(x, weight) + bias with a square stride, zero padding and dilation, and groups.</summary>
    /// <param name="x">Input [N, C, H, W], any layout.</param>
    /// <param name="weight">Weights [O, C / groups, K, K].</param>
    /// <param name="bias">Bias [O], or <see langword="null"/>.</param>
    /// <param name="stride">Step between output positions, in input pixels.</param>
    /// <param name="padding">Zeros added on each side of the input.</param>
    /// <param name="dilation">Spacing between kernel taps.</param>
    /// <param name="groups">Channel groups (1 for an ordinary convolution).</param>
    /// <returns>[N, O, H', W']; on the CPU in channels-last layout.</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding, long dilation = 1, long groups = 1)
    {
        if (x.device_type != DeviceType.CPU || Plain)
        {
            return nn.functional.conv2d(x, weight, bias, [stride, stride], [padding, padding], [dilation, dilation], groups);
        }
        Nnpack.EnsureQuiet();
        using var scope = NewDisposeScope();
        long kernelH = weight.shape[2], kernelW = weight.shape[3];
        Tensor result;
        if (groups == 1 && kernelH == 1 && kernelW == 1 && padding == 0)
        {
            result = Pointwise(x, weight, bias, stride);
        }
        else if (groups == 1 && x.shape[1] == 1)
        {
            result = Unfolded(x, weight, bias, stride, padding, dilation);
        }
        else if (groups == 1 && !ChannelsLastForwardIsRight(x, weight, stride, padding, dilation))
        {
            result = Unfolded(x, weight, bias, stride, padding, dilation);
        }
        else
        {
            result = nn.functional.conv2d(ChannelsLast.Convert(x), weight, bias, [stride, stride], [padding, padding],
                [dilation, dilation], groups);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The convolution as unfold (im2col) plus one matrix product on any device, whatever <see cref="Plain"/> says:
    /// no oneDNN convolution kernel is involved. The float path's plane-by-plane scoring uses it for its exact
    /// integer correlations.
    /// </summary>
    /// <returns>[N, O, H', W'] in channels-last layout.</returns>
    internal static Tensor UnfoldMatmul(Tensor x, Tensor weight, long stride, long padding)
    {
        using var scope = NewDisposeScope();
        return Unfolded(x, weight, null, stride, padding, 1).MoveToOuterDisposeScope();
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ShapeKey, bool> CheckedShapes = new();

    /// <summary>What oneDNN's kernel choice can depend on: the shapes, the geometry and whether a gradient is wanted.</summary>
    private readonly record struct ShapeKey(long N, long C, long H, long W, long Out, long KernelH, long KernelW,
        long Stride, long Padding, long Dilation, bool Gradient);

    /// <summary>
    /// Whether libtorch's channels-last convolution gives the right forward values for this shape: checked once per
    /// shape and gradient mode on random data against <see cref="Unfolded"/>, then remembered for the process.
    /// </summary>
    private static bool ChannelsLastForwardIsRight(Tensor x, Tensor weight, long stride, long padding, long dilation)
    {
        bool gradient = torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad);
        long[] xs = x.shape, ws = weight.shape;
        var key = new ShapeKey(xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], stride, padding, dilation, gradient);
        return CheckedShapes.GetOrAdd(key, _ =>
        {
            using var scope = NewDisposeScope();
            var probeX = ChannelsLast.Convert(torch.randn(x.shape));
            var probeW = torch.randn(weight.shape).div_(Math.Sqrt(weight[0].numel()));
            if (gradient)
            {
                probeX.requires_grad_(true);
            }
            var actual = nn.functional.conv2d(probeX, probeW, null, [stride, stride], [padding, padding], [dilation, dilation]).detach();
            Tensor expected;
            using (torch.no_grad())
            {
                expected = Unfolded(probeX.detach(), probeW, null, stride, padding, dilation);
            }
            double scale = expected.abs().max().item<float>();
            double error = (actual - expected).abs().max().item<float>();
            return error <= 1e-3 * Math.Max(scale, 1e-6);
        });
    }

    /// <summary>A 1×1 convolution as subsampling plus one matrix product over channels, channels-last out.</summary>
    private static Tensor Pointwise(Tensor x, Tensor weight, Tensor? bias, long stride)
    {
        var sampled = stride == 1 ? x : x.slice(2, 0, x.shape[2], stride).slice(3, 0, x.shape[3], stride);
        var pixels = sampled.permute(0, 2, 3, 1); // [N, H', W', C]: a view, contiguous when x is channels-last
        var matrix = weight.reshape(weight.shape[0], weight.shape[1]).t();
        var y = bias is null ? pixels.matmul(matrix) : torch.addmm(bias, pixels.reshape(-1, pixels.shape[3]), matrix, 1, 1)
            .reshape(pixels.shape[0], pixels.shape[1], pixels.shape[2], -1);
        return y.permute(0, 3, 1, 2);
    }

    /// <summary>A convolution as unfold (im2col) plus one matrix product, channels-last out.</summary>
    private static Tensor Unfolded(Tensor x, Tensor weight, Tensor? bias, long stride, long padding, long dilation)
    {
        long n = x.shape[0], outChannels = weight.shape[0];
        long kernel = weight.shape[2];
        long height = (x.shape[2] + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        long width = (x.shape[3] + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        var columns = nn.functional.unfold(x, kernel, dilation, padding, stride); // [N, C·K·K, H'·W']
        var y = columns.transpose(1, 2).matmul(weight.reshape(outChannels, -1).t()); // [N, H'·W', O]
        if (bias is not null)
        {
            y = y + bias;
        }
        return y.reshape(n, height, width, outChannels).permute(0, 3, 1, 2);
    }
}
