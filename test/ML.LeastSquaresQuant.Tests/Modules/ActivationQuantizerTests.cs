using System;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Modules;

[TestClass]
public sealed class ActivationQuantizerTests
{
    private static Tensor PerSample(Tensor x, QuantScheme scheme)
    {
        var rows = x.reshape(x.shape[0], -1);
        return LeastSquaresQuantizer.Quantize(rows, LeastSquaresQuantizer.ComputeScalars(rows, scheme), scheme).reshape(x.shape);
    }

    private static Tensor WithShared(Tensor x, Tensor shared, QuantScheme scheme)
    {
        var rows = x.reshape(x.shape[0], -1);
        return LeastSquaresQuantizer.Quantize(rows, shared.unsqueeze(0), scheme).reshape(x.shape);
    }

    [TestMethod]
    public void TestMovingAverageSequenceMatchesHandComputation()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(4);
        var scheme = QuantScheme.LeastSquares2;
        var quantizer = new ActivationQuantizer(scheme, MovingAverageMode.EvalOnly, momentum: 0.9);
        quantizer.train();
        Tensor? expected = null;
        for (int step = 0; step < 4; step++)
        {
            var batch = torch.randn(3, 2, 4, 4) * (step + 1);
            var output = quantizer.call(batch);
            Assert.IsTrue(output.BitEqual(PerSample(batch, scheme)), "eval_only trains with per-sample scalars");
            var batchMean = LeastSquaresQuantizer.ComputeScalars(batch.reshape(3, -1), scheme).mean([0L]);
            expected = expected is null ? batchMean : expected * 0.9 + batchMean * 0.1;
            Assert.IsTrue(quantizer.RunningScalars!.allclose(expected, rtol: 1e-6, atol: 1e-7), $"average after batch {step}");
        }
        var averages = TensorTestData.Values(quantizer.RunningScalars!);
        Assert.IsGreaterThan(0.0, averages[0]);

        quantizer.eval();
        var test = torch.randn(2, 2, 4, 4);
        Assert.IsTrue(quantizer.call(test).BitEqual(WithShared(test, quantizer.RunningScalars!, scheme)), "eval uses the averages");
        Assert.IsTrue(quantizer.RunningScalars!.allclose(expected!), "eval does not update the averages");
    }

    [TestMethod]
    public void TestTrainAndEvalUsesAveragesInTraining()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(5);
        var scheme = QuantScheme.LeastSquaresTernary;
        var quantizer = new ActivationQuantizer(scheme, MovingAverageMode.TrainAndEval, momentum: 0.5);
        quantizer.train();
        var first = torch.randn(4, 10);
        var out1 = quantizer.call(first);
        var mean1 = LeastSquaresQuantizer.ComputeScalars(first, scheme).mean([0L]);
        Assert.IsTrue(out1.BitEqual(WithShared(first, mean1, scheme)), "first batch initializes and is used");
        var second = torch.randn(4, 10) * 2;
        var out2 = quantizer.call(second);
        var average = mean1 * 0.5 + LeastSquaresQuantizer.ComputeScalars(second, scheme).mean([0L]) * 0.5;
        Assert.IsTrue(out2.allclose(WithShared(second, average, scheme)));
        Assert.IsFalse(out2.BitEqual(PerSample(second, scheme)));
    }

    [TestMethod]
    public void TestOffIsDynamicInBothModes()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(6);
        var scheme = QuantScheme.Greedy(2);
        var quantizer = new ActivationQuantizer(scheme);
        Assert.IsNull(quantizer.RunningScalars);
        Assert.IsEmpty(quantizer.state_dict());
        var x = torch.randn(5, 3, 2, 2);
        quantizer.train();
        Assert.IsTrue(quantizer.call(x).BitEqual(PerSample(x, scheme)));
        quantizer.eval();
        Assert.IsTrue(quantizer.call(x).BitEqual(PerSample(x, scheme)));
    }

    [TestMethod]
    public void TestBadArguments()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ActivationQuantizer(QuantScheme.LeastSquares1, MovingAverageMode.EvalOnly, 1.0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ActivationQuantizer(QuantScheme.LeastSquares1, (MovingAverageMode)7));
        var quantizer = new ActivationQuantizer(QuantScheme.LeastSquares1);
        Assert.ThrowsExactly<ArgumentException>(() => quantizer.call(torch.ones(4)));
    }
}
