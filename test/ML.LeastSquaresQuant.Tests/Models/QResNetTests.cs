using System;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Models;

[TestClass]
public sealed class QResNetTests
{
    [TestMethod]
    [DataRow(StemKind.Cifar, BlockKind.Regular, false, Nonlinearity.ReLU, 4, 3, 10, 32)]
    [DataRow(StemKind.Cifar, BlockKind.Xnor, true, Nonlinearity.PReLU, 4, 1, 7, 28)]
    [DataRow(StemKind.Cifar, BlockKind.Xnor, false, Nonlinearity.Identity, 3, 3, 100, 16)]
    [DataRow(StemKind.ImageNet, BlockKind.Xnor, true, Nonlinearity.ReLU, 4, 3, 5, 64)]
    [DataRow(StemKind.ImageNet, BlockKind.Regular, false, Nonlinearity.PReLU, 3, 1, 2, 40)]
    public void TestEveryVariantGivesLogitsOfTheRightShape(StemKind stem, BlockKind block, bool doubleShortcut,
        Nonlinearity nonlinearity, int stages, int channels, int classes, int size)
    {
        using var scope = NewDisposeScope();
        var quant = new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1, ActivationClamp.Symmetric(2));
        var arch = new QResNetArchitecture
        {
            Stem = stem, Block = block, DoubleShortcut = doubleShortcut, Nonlinearity = nonlinearity, Width = 4,
            BlocksPerStage = Enumerable.Repeat(1, stages).ToArray(), InputChannels = channels, NumClasses = classes,
            StageQuantization = Enumerable.Repeat(quant, stages).ToArray(),
        };
        var net = arch.Build();
        var logits = net.call(torch.randn(3, channels, size, size));
        CollectionAssert.AreEqual(new long[] { 3, classes }, logits.shape);
        net.eval();
        CollectionAssert.AreEqual(new long[] { 3, classes }, net.call(torch.randn(3, channels, size, size)).shape);
        int quantConvs = net.modules().OfType<QuantConv2d>().Count();
        Assert.AreEqual(stages * 2, quantConvs, "two quantized convolutions per block");
    }

    [TestMethod]
    public void TestResNet18And34HaveThePaperStructure()
    {
        using var scope = NewDisposeScope();
        var r18 = (QResNet)QResNetArchitecture.ResNet18(100, width: 64).Build();
        long parameters = r18.parameters().Sum(p => p.numel());
        // torchvision-style CIFAR ResNet-18 (3×3 stem, 100 classes) has 11,220,132 parameters.
        Assert.AreEqual(11_220_132L, parameters);
        var r34 = QResNetArchitecture.ResNet34(10, width: 4, quantization: LayerQuantization.Parse("ls-1", "ls-1"));
        var net34 = r34.Build();
        Assert.AreEqual(2 * (3 + 4 + 6 + 3), net34.modules().OfType<QuantConv2d>().Count());
        Assert.AreEqual(BlockKind.Xnor, r34.Block);
        Assert.IsTrue(r34.DoubleShortcut);
    }

    [TestMethod]
    public void TestArchitectureJsonRebuildsTheSameNetwork()
    {
        using var scope = NewDisposeScope();
        var arch = QResNetArchitecture.ResNet18(7, inputChannels: 1, width: 4,
            quantization: new LayerQuantization(QuantScheme.Greedy(2), QuantScheme.LeastSquares1, ActivationClamp.Symmetric(2),
                MovingAverageMode.EvalOnly, 0.95)) with { Nonlinearity = Nonlinearity.PReLU };
        var json = arch.ToJson();
        StringAssert.Contains(json, "\"gf-2\"");
        var back = (QResNetArchitecture)NetworkArchitecture.FromJson(json);
        Assert.AreEqual(json, back.ToJson());
        Assert.AreEqual(0.95, back.StageQuantization[3].Momentum);
        Assert.AreEqual(2.0, back.StageQuantization[0].EffectiveClamp.Alpha);

        torch.manual_seed(3);
        var a = arch.Build();
        torch.manual_seed(3);
        var b = back.Build();
        var x = torch.randn(2, 1, 16, 16);
        a.eval();
        b.eval();
        Assert.IsTrue(a.call(x).BitEqual(b.call(x)));
        CollectionAssert.AreEqual(a.state_dict().Keys.ToArray(), b.state_dict().Keys.ToArray());

        var lenet = new LeNet5Architecture { Quantization = LayerQuantization.Parse("ls-2", "ls-1") };
        Assert.AreEqual(lenet.ToJson(), NetworkArchitecture.FromJson(lenet.ToJson()).ToJson());
    }

    [TestMethod]
    public void TestLeNet5Shapes()
    {
        using var scope = NewDisposeScope();
        var net = new LeNet5Architecture { NumClasses = 10, Quantization = LayerQuantization.Parse("ls-2", "ls-1") }.Build();
        CollectionAssert.AreEqual(new long[] { 4, 10 }, net.call(torch.randn(4, 1, 28, 28)).shape);
        Assert.AreEqual(1, net.modules().OfType<QuantConv2d>().Count());
        var rgb = new LeNet5Architecture { InputChannels = 3, ImageSize = 32, NumClasses = 3 }.Build();
        CollectionAssert.AreEqual(new long[] { 2, 3 }, rgb.call(torch.randn(2, 3, 32, 32)).shape);
        Assert.ThrowsExactly<ArgumentException>(() => net.call(torch.randn(4, 1, 32, 32)));
        // The smallest side that leaves a pixel after both poolings builds; one less is refused before libtorch sees it.
        CollectionAssert.AreEqual(new long[] { 2, 3 }, new LeNet5Architecture { ImageSize = 16, NumClasses = 3 }.Build().call(torch.randn(2, 1, 16, 16)).shape);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new LeNet5Architecture { ImageSize = 15 }.Build()).Message, "≥ 16");
    }

    [TestMethod]
    public void TestInvalidArchitecturesAndInputs()
    {
        Assert.ThrowsExactly<ArgumentException>(() => new QResNetArchitecture { BlocksPerStage = [2, 2] }.Build());
        Assert.ThrowsExactly<ArgumentException>(() => new QResNetArchitecture { NumClasses = 1 }.Build());
        Assert.ThrowsExactly<ArgumentException>(() => new QResNetArchitecture
        {
            StageQuantization = [LayerQuantization.FullPrecision],
        }.Build());
        var ex = Assert.ThrowsExactly<FormatException>(() => NetworkArchitecture.FromJson(
            "{\"family\":\"qresnet\",\"StageQuantization\":[{\"ActivationScheme\":\"ls-3\",\"WeightScheme\":\"ls-1\"}]}"));
        StringAssert.Contains(ex.Message, "ls-3");
        Assert.ThrowsExactly<FormatException>(() => NetworkArchitecture.FromJson("not json"));

        using var scope = NewDisposeScope();
        var net = QResNetArchitecture.ResNet18(10, inputChannels: 3, width: 4).Build();
        var wrong = Assert.ThrowsExactly<ArgumentException>(() => net.call(torch.randn(2, 1, 32, 32)));
        StringAssert.Contains(wrong.Message, "[2, 1, 32, 32]");
    }
}
