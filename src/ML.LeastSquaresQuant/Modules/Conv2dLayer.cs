using System;
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

    public override Tensor forward(Tensor x) => Convolution.Conv2d(x, Weight, Bias, _stride, _padding);
}
