using System;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Modules;

[TestClass]
public sealed class QuantConv2dTests
{
    private static Tensor ByHand(Tensor rows4d, QuantScheme scheme)
    {
        var rows = rows4d.reshape(rows4d.shape[0], -1);
        return LeastSquaresQuantizer.Quantize(rows, LeastSquaresQuantizer.ComputeScalars(rows, scheme), scheme).reshape(rows4d.shape);
    }

    [TestMethod]
    [DataRow(1, 0, 1, 1, true)]
    [DataRow(2, 1, 1, 1, false)]
    [DataRow(1, 2, 2, 2, true)]
    public void TestFullPrecisionEqualsConv2dExactly(int stride, int padding, int dilation, int groups, bool bias)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(7);
        var conv = new QuantConv2d(4, 6, 3, LayerQuantization.FullPrecision, stride, padding, dilation, groups, bias);
        var x = torch.randn(2, 4, 9, 9);
        // float64 never reaches oneDNN, whose float32 NCHW kernels are wrong for some channel counts (6 among them).
        var expected = nn.functional.conv2d(x.to_type(ScalarType.Float64), conv.Weight.to_type(ScalarType.Float64),
            conv.Bias?.to_type(ScalarType.Float64), [stride, stride], [padding, padding], [dilation, dilation], groups);
        var actual = conv.call(x).to_type(ScalarType.Float64);
        Assert.IsLessThan(1e-5, (actual - expected).abs().max().item<double>());
    }

    [TestMethod]
    public void TestQuantizedEqualsConv2dOnTensorsQuantizedByHand()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        var quant = new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1, ActivationClamp.Symmetric(2));
        var conv = new QuantConv2d(3, 5, 3, quant, stride: 1, padding: 1);
        conv.train();
        var x = torch.randn(4, 3, 6, 6) * 2;
        var xq = ByHand(x.clamp(-2, 2), QuantScheme.LeastSquares2);
        var wq = ByHand(conv.Weight.detach(), QuantScheme.LeastSquares1);
        var expected = nn.functional.conv2d(xq, wq, conv.Bias, [1, 1], [1, 1], [1, 1], 1);
        var actual = conv.call(x);
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-6, atol: 1e-6));

        actual.sum().backward();
        Assert.IsNotNull(conv.Weight.grad);
        Assert.IsGreaterThan(0.0, conv.Weight.grad!.abs().sum().item<float>());
    }

    [TestMethod]
    public void TestBadInputIsRejectedBeforeNativeCode()
    {
        var conv = new QuantConv2d(3, 4, 3, LayerQuantization.Parse("ls-1", "ls-1"));
        var wrongChannels = Assert.ThrowsExactly<ArgumentException>(() => conv.call(torch.ones(1, 2, 8, 8)));
        StringAssert.Contains(wrongChannels.Message, "[1, 2, 8, 8]");
        Assert.ThrowsExactly<ArgumentException>(() => conv.call(torch.ones(3, 8, 8)));
        Assert.ThrowsExactly<ArgumentException>(() => conv.call(torch.ones(1, 3, 2, 2)));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new QuantConv2d(3, 4, 3, groups: 2));
        Assert.ThrowsExactly<ArgumentException>(() => LayerQuantization.Parse("ls-3", "ls-1"));
    }
}
