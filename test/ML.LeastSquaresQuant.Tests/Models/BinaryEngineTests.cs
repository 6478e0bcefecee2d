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

/// <summary>
/// The three CPU scoring paths of a quantized ResNet give bit-identical logits: the whole-network engine (fused
/// blocks), the engine layer by layer, and the float path (libtorch convolutions of the sign planes in the engine's
/// arithmetic); and the float path is the trained function (conv of the reconstructed tensors) up to rounding.
/// </summary>
[TestClass]
[DoNotParallelize] // switches the process-wide engine threshold
public sealed class BinaryEngineTests
{
    private static nn.Module<Tensor, Tensor> Network(string activation, string weight, Nonlinearity nonlinearity, bool doubleShortcut,
        MovingAverageMode averages, StemKind stem, int seed)
    {
        manual_seed(seed);
        var quantization = LayerQuantization.Parse(activation, weight, ActivationClamp.Symmetric(2)) with { MovingAverage = averages };
        var net = new QResNetArchitecture
        {
            Stem = stem, Block = BlockKind.Xnor, DoubleShortcut = doubleShortcut, Nonlinearity = nonlinearity, Width = 6,
            BlocksPerStage = [2, 1, 1], InputChannels = 3, NumClasses = 7,
            StageQuantization = Enumerable.Repeat(quantization, 3).ToArray(),
        }.Build();
        // Batch statistics and moving averages as training leaves them, not the initial identity.
        net.train();
        using (no_grad())
        {
            for (int i = 0; i < 3; i++)
            {
                net.call(randn(8, 3, 15, 15) * 2 + 0.3);
            }
            foreach (var prelu in net.modules().OfType<TorchSharp.Modules.PReLU>())
            {
                prelu.weight!.copy_(rand_like(prelu.weight!) * 0.5 - 0.1);
            }
        }
        net.eval();
        foreach (var conv in net.modules().OfType<QuantConv2d>())
        {
            conv.FreezeWeights();
        }
        return net;
    }

    private static Tensor Score(nn.Module<Tensor, Tensor> net, Tensor images)
    {
        using var noGrad = no_grad();
        return net.call(images).detach();
    }

    [TestMethod]
    [DataRow("ls-2", "ls-1", Nonlinearity.ReLU, true, MovingAverageMode.Off, StemKind.Cifar)]
    [DataRow("ls-2", "ls-2", Nonlinearity.PReLU, true, MovingAverageMode.Off, StemKind.Cifar)]
    [DataRow("ls-T", "ls-1", Nonlinearity.Identity, false, MovingAverageMode.Off, StemKind.Cifar)]
    [DataRow("gf-2", "ls-T", Nonlinearity.PReLU, false, MovingAverageMode.EvalOnly, StemKind.Cifar)]
    [DataRow("ls-1", "gf-3", Nonlinearity.ReLU, true, MovingAverageMode.TrainAndEval, StemKind.ImageNet)]
    public void TestEngineFusedLayerwiseAndFloatPathAreBitIdentical(string activation, string weight, Nonlinearity nonlinearity,
        bool doubleShortcut, MovingAverageMode averages, StemKind stem)
    {
        using var scope = NewDisposeScope();
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var net = Network(activation, weight, nonlinearity, doubleShortcut, averages, stem, seed: 3);
        var images = randn(5, 3, 15, 15) * 2;
        var trained = Score(net, images); // no engine chosen yet: float convolutions of the reconstructed tensors

        BinaryEngine.Use(net, true);
        var fused = Score(net, images);

        foreach (var conv in net.modules().OfType<QuantConv2d>())
        {
            conv.UseBinaryEngine(true);
        }
        foreach (var block in net.modules().OfType<XnorBlock>())
        {
            block.UseBinaryEngine(false);
        }
        ((QResNet)net).UseBinaryEngine(false);
        var layerwise = Score(net, images);

        BinaryEngine.Use(net, false);
        var floatPath = Score(net, images);

        Assert.IsTrue(fused.BitEqual(layerwise), $"fused vs layer by layer: {(fused - layerwise).abs().max().item<float>():E2}");
        Assert.IsTrue(fused.BitEqual(floatPath), $"engine vs float path: {(fused - floatPath).abs().max().item<float>():E2}; NaN in engine {fused.isnan().sum().item<long>()}, float path {floatPath.isnan().sum().item<long>()}, trained {trained.isnan().sum().item<long>()}");
        // The trained arithmetic rounds differently, and a rounding can flip a later sign decision, so only closeness.
        double scale = trained.abs().max().item<float>();
        Assert.IsLessThan(0.05 * scale, (floatPath - trained).abs().max().item<float>(), "float path vs the trained arithmetic");
    }

    [TestMethod]
    public void TestPlaneConvolutionIsTheQuantizedConvolution()
    {
        using var scope = NewDisposeScope();
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        manual_seed(11);
        var conv = new QuantConv2d(13, 9, 3, LayerQuantization.Parse("ls-2", "ls-2", ActivationClamp.Symmetric(2)), stride: 2, padding: 1);
        conv.eval();
        conv.FreezeWeights();
        var x = randn(4, 13, 9, 11) * 1.5;
        Tensor expected;
        using (no_grad())
        {
            // The quantized tensors the float path reconstructs, convolved in float64.
            var rows = ChannelsLast.SampleRows(ChannelsLast.Convert(x.clamp(-2, 2)), out _);
            var scalars = LeastSquaresQuantizer.ComputeScalars(rows, QuantScheme.LeastSquares2).to_type(ScalarType.Float32);
            var xq = ChannelsLast.Restore(LeastSquaresQuantizer.Quantize(rows, scalars, QuantScheme.LeastSquares2), x, true);
            var wq = conv.WeightQuantizer.call(conv.Weight);
            expected = nn.functional.conv2d(xq.to_type(ScalarType.Float64), wq.to_type(ScalarType.Float64),
                conv.Bias!.to_type(ScalarType.Float64), [2, 2], [1, 1]);
        }
        conv.UseBinaryEngine(false);
        var actual = Score(conv, x);
        double error = (actual.to_type(ScalarType.Float64) - expected).abs().max().item<double>();
        Assert.IsLessThan(1e-5 * expected.abs().max().item<double>(), error, "plane-by-plane float path vs float64 convolution");
    }

    [TestMethod]
    public void TestScoringResNet18HoldsLessThanATenthOfItsFloatWeights()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var net = QResNetArchitecture.ResNet18(10, quantization: LayerQuantization.Parse("ls-2", "ls-1", ActivationClamp.Symmetric(2))).Build();
        net.eval();
        var convs = net.modules().OfType<QuantConv2d>().ToList();
        convs.ForEach(c => c.FreezeWeights());
        long full = ModelSize.Measure(net).FullPrecisionBytes;
        BinaryEngine.Use(net, true);
        var images = randn(2, 3, 32, 32);
        var before = Score(net, images);
        long heldBefore = ResidentWeights.Bytes(net);

        convs.ForEach(c => c.ReleaseFloatWeights());
        BinaryEngine.Use(net, true);
        long held = ResidentWeights.Bytes(net);
        var after = Score(net, images);
        BinaryEngine.Use(net, false);
        var floatPath = Score(net, images);
        Console.WriteLine($"float32 weights {full:N0} B; held while scoring: {heldBefore:N0} B with float copies, {held:N0} B without ({(double)held / full:P1})");
        Assert.IsGreaterThan(full, heldBefore, "with the float copies the engine holds more than float32");
        Assert.IsLessThanOrEqualTo(full / 10, held, "bytes held while scoring");
        Assert.IsTrue(after.BitEqual(before), "releasing the float weights does not change the engine's scores");
        Assert.IsTrue(floatPath.BitEqual(before), "nor the float path's");

        // A pass that needs float weights gets the planes' reconstruction back.
        var conv = convs.First(c => c.FloatWeightsReleased);
        net.train();
        using (no_grad())
        {
            net.call(images);
        }
        Assert.IsFalse(conv.FloatWeightsReleased);
        Assert.IsTrue(conv.Weight.detach().BitEqual(tensor(conv.StoredPlanes!.Reconstruct(), conv.Weight.shape)), "restored weights");
    }

    [TestMethod]
    public void TestABatchSplitAcrossThreadsGivesEveryImageItsOwnScores()
    {
        using var scope = NewDisposeScope();
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var net = Network("ls-2", "ls-1", Nonlinearity.PReLU, true, MovingAverageMode.Off, StemKind.Cifar, seed: 9);
        BinaryEngine.Use(net, true);
        // 11 images: split into slices of unequal size wherever the machine has 2 to 5 cores; channels-last input too.
        var images = randn(11, 3, 15, 15) * 2;
        var whole = Score(net, images);
        var channelsLast = Score(net, ChannelsLast.Convert(images));
        Assert.IsTrue(whole.BitEqual(channelsLast), "channels-last input");
        for (int i = 0; i < 11; i++)
        {
            var alone = Score(net, images.narrow(0, i, 1));
            Assert.IsTrue(whole.narrow(0, i, 1).BitEqual(alone), $"image {i}: {(whole.narrow(0, i, 1) - alone).abs().max().item<float>():E2}");
        }
    }

    [TestMethod]
    public void TestConcurrentScoringOnTheEngineGivesTheSequentialScores()
    {
        using var scope = NewDisposeScope();
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var net = Network("ls-2", "ls-1", Nonlinearity.PReLU, true, MovingAverageMode.Off, StemKind.Cifar, seed: 8);
        BinaryEngine.Use(net, true);
        var batches = Enumerable.Range(0, 4).Select(i => (randn(i + 1, 3, 15, 15) * 2).DetachFromDisposeScope()).ToArray();
        var sequential = batches.Select(b => Score(net, b).DetachFromDisposeScope()).ToArray();
        var concurrent = new Tensor[batches.Length];
        System.Threading.Tasks.Parallel.For(0, batches.Length * 5, k =>
        {
            int i = k % batches.Length;
            var scores = Score(net, batches[i]); // worker threads have no dispose scope
            if (k >= batches.Length * 4)
            {
                concurrent[i] = scores;
            }
            else
            {
                scores.Dispose();
            }
        });
        for (int i = 0; i < batches.Length; i++)
        {
            Assert.IsTrue(concurrent[i].BitEqual(sequential[i]), $"batch {i} scored concurrently");
        }
        foreach (var t in batches.Concat(sequential).Concat(concurrent))
        {
            t.Dispose();
        }
    }

    [TestMethod]
    public void TestFusedBlockRefusesTheWrongChannelCount()
    {
        using var scope = NewDisposeScope();
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var net = Network("ls-2", "ls-1", Nonlinearity.ReLU, true, MovingAverageMode.Off, StemKind.Cifar, seed: 5);
        BinaryEngine.Use(net, true);
        var block = net.modules().OfType<XnorBlock>().First();
        using var noGrad = no_grad();
        var error = Assert.ThrowsExactly<ArgumentException>(() => block.call(randn(2, 5, 8, 8)));
        StringAssert.Contains(error.Message, "[N, 6, H, W]");
    }
}
