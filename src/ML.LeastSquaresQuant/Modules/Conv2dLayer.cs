using System;
using ML.LeastSquaresQuant.Inference;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// A full-precision convolution layer (the stems, shortcuts and LeNet-5's first layer) computed through
/// <see cref="Convolution"/>. Its parameters are named like <c>nn.Conv2d</c>'s (<c>weight</c>, <c>bias</c>) and
/// initialized the same way, so saved models and checkpoints are unchanged.
/// </summary>
internal sealed class Conv2dLayer : nn.Module<Tensor, Tensor>
{
    private readonly long _stride, _padding;

    public Conv2dLayer(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true)
        : base("Conv2d")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        _stride = stride;
        _padding = padding;
        var w = torch.empty(outChannels, inChannels, kernelSize, kernelSize);
        nn.init.kaiming_uniform_(w, Math.Sqrt(5));
        register_parameter("weight", new Parameter(w));
        if (bias)
        {
            double bound = 1.0 / Math.Sqrt(inChannels * kernelSize * kernelSize);
            register_parameter("bias", new Parameter(torch.empty(outChannels).uniform_(-bound, bound)));
        }
    }

    /// <summary>The weights [out, in, k, k].</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>The bias [out], or <see langword="null"/> for a layer without one.</summary>
    public Parameter? Bias => get_parameter("bias");

    /// <summary>Step between output positions, in input pixels.</summary>
    public long Stride => _stride;

    /// <summary>Zeros added on each side of the input.</summary>
    public long Padding => _padding;

    private FloatConv2d? _cpuKernel;

    /// <summary>The C# kernel this layer scores with, when <see cref="UseCpuKernel"/> turned it on.</summary>
    internal FloatConv2d? CpuKernel => _cpuKernel;

    /// <summary>
    /// Scores evaluation-mode, gradient-free CPU float32 passes with <see cref="FloatConv2d"/> (<paramref name="on"/>
    /// true), the arithmetic of a network scored on the binary engine, or with <see cref="Convolution"/> (false).
    /// The kernel copies the weights now, so it serves a layer whose parameters no longer change.
    /// </summary>
    internal void UseCpuKernel(bool on)
    {
        _cpuKernel = null;
        if (!on)
        {
            return;
        }
        _cpuKernel = new FloatConv2d(TensorCopy.ToFloatArray(Weight), Bias is null ? [] : TensorCopy.ToFloatArray(Bias),
            checked((int)Weight.shape[0]), checked((int)Weight.shape[1]), checked((int)Weight.shape[2]), checked((int)_stride), checked((int)_padding));
    }

    public override Tensor forward(Tensor x)
    {
        if (_cpuKernel is { } kernel && !training && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32
            && !is_grad_enabled() && x.dim() == 4 && x.shape[1] == kernel.InChannels)
        {
            return Forward(kernel, x);
        }
        return Convolution.Conv2d(x, Weight, Bias, _stride, _padding);
    }

    /// <summary>The convolution of <paramref name="x"/> [N, C, H, W] by <paramref name="kernel"/>, channels-last.</summary>
    private static unsafe Tensor Forward(FloatConv2d kernel, Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = ChannelsLast.Convert(x).permute(0, 2, 3, 1).contiguous();
        int n = checked((int)input.shape[0]), h = checked((int)input.shape[1]), w = checked((int)input.shape[2]);
        var output = empty(n, kernel.OutputSize(h), kernel.OutputSize(w), kernel.OutChannels);
        fixed (byte* xp = input.bytes, yp = output.bytes)
        {
            kernel.Forward((float*)xp, n, h, w, (float*)yp);
        }
        return output.permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }
}
