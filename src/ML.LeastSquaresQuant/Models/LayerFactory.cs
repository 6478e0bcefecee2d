using System;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>Small builders shared by the network definitions.</summary>
internal static class LayerFactory
{
    public static nn.Module<Tensor, Tensor> Nonlinear(Nonlinearity kind, long channels) => kind switch
    {
        Nonlinearity.ReLU => nn.ReLU(),
        Nonlinearity.PReLU => nn.PReLU(channels, 0.25),
        Nonlinearity.Identity => nn.Identity(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown nonlinearity."),
    };

    /// <summary>3×3 quantized convolution with padding 1.</summary>
    public static QuantConv2d Conv3x3(long inChannels, long outChannels, long stride, LayerQuantization quantization, bool bias) =>
        new(inChannels, outChannels, 3, quantization, stride: stride, padding: 1, bias: bias);

    /// <summary>The full-precision down-sampling shortcut (1×1 conv + BN), or identity when shapes already agree.</summary>
    public static nn.Module<Tensor, Tensor> Shortcut(long inChannels, long outChannels, long stride) =>
        stride == 1 && inChannels == outChannels
            ? nn.Identity()
            : nn.Sequential(
                ("conv", new Conv2dLayer(inChannels, outChannels, 1, stride: stride, bias: false)),
                ("bn", nn.BatchNorm2d(outChannels)));
}
