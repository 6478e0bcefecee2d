using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>conv-BN-nonlin-conv-BN, add the shortcut, nonlin: the full-precision teacher's basic block.</summary>
internal sealed class RegularBlock : nn.Module<Tensor, Tensor>
{
    private readonly QuantConv2d conv1, conv2;
    private readonly nn.Module<Tensor, Tensor> bn1, bn2, nonlin1, nonlin2, shortcut;

    public RegularBlock(long inChannels, long outChannels, long stride, LayerQuantization quantization, Nonlinearity nonlinearity)
        : base(nameof(RegularBlock))
    {
        conv1 = LayerFactory.Conv3x3(inChannels, outChannels, stride, quantization, bias: false);
        bn1 = nn.BatchNorm2d(outChannels);
        nonlin1 = LayerFactory.Nonlinear(nonlinearity, outChannels);
        conv2 = LayerFactory.Conv3x3(outChannels, outChannels, 1, quantization, bias: false);
        bn2 = nn.BatchNorm2d(outChannels);
        nonlin2 = LayerFactory.Nonlinear(nonlinearity, outChannels);
        shortcut = LayerFactory.Shortcut(inChannels, outChannels, stride);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        // A scope per block keeps intermediate handles from piling up until the end of the step.
        using var scope = NewDisposeScope();
        var y = nonlin1.call(bn1.call(conv1.call(x)));
        y = bn2.call(conv2.call(y));
        return nonlin2.call(y + shortcut.call(x)).MoveToOuterDisposeScope();
    }
}
