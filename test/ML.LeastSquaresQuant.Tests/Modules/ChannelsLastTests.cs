using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Modules;

[TestClass]
public sealed class ChannelsLastTests
{
    [TestMethod]
    public void TestConvertKeepsValuesAndChangesOnlyTheLayout()
    {
        using var scope = NewDisposeScope();
        var x = torch.arange(2 * 3 * 4 * 5, dtype: ScalarType.Float32).reshape(2, 3, 4, 5);
        Assert.IsFalse(ChannelsLast.Is(x));
        var converted = ChannelsLast.Convert(x);
        Assert.IsTrue(ChannelsLast.Is(converted));
        Assert.IsTrue(converted.BitEqual(x));
        CollectionAssert.AreEqual(new long[] { 60, 1, 15, 3 }, converted.stride());

        var rows = ChannelsLast.SampleRows(converted, out bool channelsLast);
        CollectionAssert.AreEqual(new long[] { 2, 60 }, rows.shape);
        // Channels-last rows follow memory: the first row starts with pixel (0, 0) of channels 0, 1, 2.
        CollectionAssert.AreEqual(new[] { 0f, 20f, 40f, 1f }, rows[0].narrow(0, 0, 4).data<float>().ToArray());
        var restored = ChannelsLast.Restore(rows * 2, converted, channelsLast);
        Assert.IsTrue(ChannelsLast.Is(restored));
        Assert.IsTrue(restored.BitEqual(x * 2));
    }

    [TestMethod]
    [DataRow("ls-1")]
    [DataRow("ls-2")]
    [DataRow("ls-T")]
    [DataRow("gf-2")]
    public void TestActivationQuantizerGivesTheSameValuesAndGradientsInBothLayouts(string schemeText)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(11);
        var scheme = QuantScheme.Parse(schemeText);
        var quantizer = new ActivationQuantizer(scheme);
        quantizer.train();
        var data = torch.randn(4, 6, 5, 7);
        var weights = torch.randn(4, 6, 5, 7);

        var plain = data.clone().requires_grad_(true);
        var outPlain = quantizer.call(plain);
        (outPlain * weights).sum().backward();

        var nhwc = ChannelsLast.Convert(data.clone()).detach().requires_grad_(true);
        var outNhwc = quantizer.call(nhwc);
        (outNhwc * weights).sum().backward();

        Assert.IsTrue(ChannelsLast.Is(outNhwc), "the quantizer keeps the channels-last layout");
        Assert.IsFalse(ChannelsLast.Is(outPlain));
        // Per-sample scalars are the same optimum; only the summation order differs.
        Assert.IsTrue(outNhwc.allclose(outPlain, rtol: 1e-5, atol: 1e-6), "values");
        Assert.IsTrue(nhwc.grad!.allclose(plain.grad!), "straight-through gradients");
    }

    [TestMethod]
    public void TestQResNetFeedsChannelsLastActivationsToItsConvolutionsOnTheCpu()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        // One input channel: NCHW and NHWC are the same memory, so the stem's output must be converted too.
        var arch = QResNetArchitecture.ResNet18(5, 1,
            new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1)) with { Width = 4 };
        var model = (QResNet)arch.Build();
        var layouts = new List<bool>();
        foreach (var module in model.modules())
        {
            if (module is QuantConv2d conv)
            {
                conv.register_forward_pre_hook((_, input) => { layouts.Add(ChannelsLast.Is(input)); return input; });
            }
        }
        model.eval();
        using (torch.no_grad())
        {
            var output = model.call(torch.randn(2, 1, 16, 16));
            CollectionAssert.AreEqual(new long[] { 2, 5 }, output.shape);
        }
        Assert.HasCount(16, layouts);
        CollectionAssert.DoesNotContain(layouts, false);
    }

    [TestMethod]
    [DataRow(1, false, 4)]
    [DataRow(3, true, 4)]
    [DataRow(3, true, 8)]
    [DataRow(1, true, 12)]
    public void TestTrainingStepGradientsMatchFloat64(int inputChannels, bool quantized, int width)
    {
        // float64 convolutions never reach oneDNN, whose NCHW kernels gave wrong gradients for narrow networks:
        // the routed float32 step must agree with them on every parameter.
        var arch = QResNetArchitecture.ResNet18(4, inputChannels,
            quantized ? new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1) : null) with { Width = width };
        var single = Step(arch, ScalarType.Float32);
        var reference = Step(arch, ScalarType.Float64);
        Assert.HasCount(reference.Count, single);
        for (int i = 0; i < reference.Count; i++)
        {
            Assert.AreEqual(reference[i].Name, single[i].Name);
            double scale = reference[i].Grad.abs().max().item<double>();
            double diff = (reference[i].Grad - single[i].Grad.to_type(ScalarType.Float64)).abs().max().item<double>();
            Assert.IsLessThanOrEqualTo(1e-3 * scale + 1e-6, diff, $"gradient of {reference[i].Name}");
        }
    }

    private static List<(string Name, Tensor Grad)> Step(QResNetArchitecture arch, ScalarType dtype)
    {
        torch.manual_seed(21);
        var model = arch.Build();
        model.to(dtype);
        model.train();
        var images = torch.randn(6, arch.InputChannels, 12, 12, dtype: ScalarType.Float64).to_type(dtype);
        var labels = torch.tensor(new long[] { 0, 1, 2, 3, 0, 1 });
        nn.functional.cross_entropy(model.call(images), labels).backward();
        return model.named_parameters().Select(p => (p.name, p.parameter.grad!.detach().clone())).ToList();
    }
}
