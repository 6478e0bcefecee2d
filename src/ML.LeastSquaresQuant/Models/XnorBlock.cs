using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// BN → QuantConv → nonlin, twice: the quantized students' block. With the double shortcut (Bi-Real style):
/// out1 = nonlin1(qconv1(bn1(x))) + shortcut(x); out = nonlin2(qconv2(bn2(out1))) + out1. Without it:
/// out = nonlin2(qconv2(bn2(nonlin1(qconv1(bn1(x)))))) + shortcut(x).
/// </summary>
internal sealed class XnorBlock : nn.Module<Tensor, Tensor>
{
    private readonly QuantConv2d conv1, conv2;
    private readonly nn.Module<Tensor, Tensor> bn1, bn2, nonlin1, nonlin2, shortcut;
    private readonly bool doubleShortcut;

    public XnorBlock(long inChannels, long outChannels, long stride, LayerQuantization quantization, Nonlinearity nonlinearity,
        bool doubleShortcut)
        : base(nameof(XnorBlock))
    {
        bn1 = nn.BatchNorm2d(inChannels);
        conv1 = LayerFactory.Conv3x3(inChannels, outChannels, stride, quantization, bias: true);
        nonlin1 = LayerFactory.Nonlinear(nonlinearity, outChannels);
        bn2 = nn.BatchNorm2d(outChannels);
        conv2 = LayerFactory.Conv3x3(outChannels, outChannels, 1, quantization, bias: true);
        nonlin2 = LayerFactory.Nonlinear(nonlinearity, outChannels);
        shortcut = LayerFactory.Shortcut(inChannels, outChannels, stride);
        this.doubleShortcut = doubleShortcut;
        RegisterComponents();
    }

    private XnorBlockEngine? _engine;

    /// <summary>The fused engine, when <see cref="UseBinaryEngine"/> built one.</summary>
    internal XnorBlockEngine? Engine => _engine;

    /// <summary>
    /// Scores evaluation-mode, gradient-free CPU passes as one fused block on the binary engine when both
    /// convolutions run on it (call after their own <see cref="QuantConv2d.UseBinaryEngine"/>); otherwise, or with
    /// <paramref name="on"/> false, the modules run one after another.
    /// </summary>
    internal void UseBinaryEngine(bool on)
    {
        Fusable = XnorBlockEngine.Supports(conv1, bn1, nonlin1, conv2, bn2, nonlin2);
        // Both ways the shortcut's convolution takes the same C# arithmetic, so the engine and the float path agree.
        foreach (var conv in shortcut.modules().OfType<Conv2dLayer>())
        {
            conv.UseCpuKernel(Fusable);
        }
        _engine = on && Fusable ? XnorBlockEngine.Create(conv1.Engine, bn1, nonlin1, conv2.Engine, bn2, nonlin2, shortcut, doubleShortcut) : null;
    }

    /// <summary>Whether the block runs fused when the engine is on (<see cref="XnorBlockEngine.Supports"/>), as the last
    /// <see cref="UseBinaryEngine"/> found.</summary>
    internal bool Fusable { get; private set; }

    public override Tensor forward(Tensor x)
    {
        if (_engine is not null && !training && x.device_type == TorchSharp.DeviceType.CPU && x.dtype == ScalarType.Float32
            && !TorchSharp.torch.is_grad_enabled())
        {
            return _engine.Forward(x);
        }
        using var scope = NewDisposeScope();
        var first = nonlin1.call(conv1.call(bn1.call(x)));
        Tensor result;
        if (doubleShortcut)
        {
            first = first + shortcut.call(x);
            result = nonlin2.call(conv2.call(bn2.call(first))) + first;
        }
        else
        {
            result = nonlin2.call(conv2.call(bn2.call(first))) + shortcut.call(x);
        }
        return result.MoveToOuterDisposeScope();
    }
}
