using System;
using System.IO;
using System.Text;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Modules;

[TestClass]
public sealed class WeightQuantizerTests
{
    [TestMethod]
    public void TestTrainingCachesScalarsAndEvalUsesCacheAfterWeightsChange()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var quantizer = new WeightQuantizer(QuantScheme.LeastSquares2, 4);
        var weight = torch.randn(4, 3, 3, 3);

        quantizer.train();
        var trained = quantizer.call(weight);
        var expectedScalars = LeastSquaresQuantizer.ComputeScalars(weight.reshape(4, -1), QuantScheme.LeastSquares2);
        Assert.IsTrue(quantizer.CachedScalars!.BitEqual(expectedScalars));
        Assert.IsTrue(trained.BitEqual(LeastSquaresQuantizer.Quantize(weight.reshape(4, -1), expectedScalars, QuantScheme.LeastSquares2).reshape(4, 3, 3, 3)));

        quantizer.eval();
        var changed = weight * 3 + 0.5;
        var evaluated = quantizer.call(changed);
        var withCache = LeastSquaresQuantizer.Quantize(changed.reshape(4, -1), expectedScalars, QuantScheme.LeastSquares2).reshape(4, 3, 3, 3);
        Assert.IsTrue(evaluated.BitEqual(withCache), "eval must use the cached scalars");
        var fresh = LeastSquaresQuantizer.Quantize(changed.reshape(4, -1),
            LeastSquaresQuantizer.ComputeScalars(changed.reshape(4, -1), QuantScheme.LeastSquares2), QuantScheme.LeastSquares2).reshape(4, 3, 3, 3);
        Assert.IsFalse(evaluated.BitEqual(fresh), "recomputed scalars would differ, so the test can tell them apart");
        Assert.IsTrue(quantizer.CachedScalars!.BitEqual(expectedScalars), "eval must not touch the cache");
    }

    [TestMethod]
    public void TestCachedScalarsRoundTripThroughSaveAndLoad()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var quantizer = new WeightQuantizer(QuantScheme.Greedy(3), 5);
        var weight = torch.randn(5, 8);
        quantizer.train();
        quantizer.call(weight);

        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            quantizer.save(writer);
        }
        stream.Position = 0;
        var loaded = new WeightQuantizer(QuantScheme.Greedy(3), 5);
        Assert.IsFalse(loaded.CachedScalars!.BitEqual(quantizer.CachedScalars!));
        using (var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true))
        {
            loaded.load(reader);
        }
        Assert.IsTrue(loaded.CachedScalars!.BitEqual(quantizer.CachedScalars!));
        loaded.eval();
        quantizer.eval();
        Assert.IsTrue(loaded.call(weight).BitEqual(quantizer.call(weight)));
    }

    [TestMethod]
    public void TestGradientIsStraightThroughAndFullPrecisionIsIdentity()
    {
        using var scope = NewDisposeScope();
        var weight = torch.tensor(new float[] { 0.5f, -2f, 0.25f, 1.5f }).reshape(2, 2).requires_grad_(true);
        var quantizer = new WeightQuantizer(QuantScheme.LeastSquares1, 2);
        quantizer.call(weight).sum().backward();
        CollectionAssert.AreEqual(new float[] { 1, 0, 1, 0 }, weight.grad!.data<float>().ToArray());

        var identity = new WeightQuantizer(QuantScheme.FullPrecision, 2);
        Assert.IsNull(identity.CachedScalars);
        Assert.IsTrue(identity.call(weight).BitEqual(weight));
        Assert.IsEmpty(identity.state_dict());
    }

    [TestMethod]
    public void TestWrongShapeIsRejected()
    {
        var quantizer = new WeightQuantizer(QuantScheme.LeastSquares1, 4);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => quantizer.call(torch.ones(3, 2)));
        StringAssert.Contains(ex.Message, "[3, 2]");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new WeightQuantizer(QuantScheme.LeastSquares1, 0));
    }

    [TestMethod]
    public void TestFrozenWeightsServeEvaluationUntilTheNextTrainingPass()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(9);
        var quantizer = new WeightQuantizer(QuantScheme.LeastSquares2, 4);
        var weight = torch.randn(4, 3, 3, 3);
        quantizer.train();
        quantizer.call(weight);
        quantizer.eval();
        var expected = quantizer.call(weight).detach().clone();

        quantizer.Freeze(weight);
        Assert.IsTrue(quantizer.call(weight).BitEqual(expected), "frozen weights are the evaluation-mode weights");
        var changed = weight * 3;
        Assert.IsTrue(quantizer.call(changed).BitEqual(expected), "evaluation serves the frozen weights");

        quantizer.train();
        var trained = quantizer.call(changed).detach().clone();
        Assert.IsFalse(trained.BitEqual(expected), "a training pass drops them and quantizes the current weights");
        quantizer.eval();
        Assert.IsTrue(quantizer.call(changed).BitEqual(trained), "and evaluation follows the new scalars again");
    }

    [TestMethod]
    public void TestFrozenWeightsOutliveTheFreezingScopeAndGoWithTheModule()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(10);
        var quantizer = new WeightQuantizer(QuantScheme.LeastSquares1, 4);
        var weight = torch.randn(4, 3, 3, 3);
        quantizer.train();
        quantizer.call(weight);
        quantizer.eval();
        var expected = quantizer.call(weight).detach().clone();

        // A caller (such as a model loader) freezes inside its own scope, which then ends.
        using (NewDisposeScope())
        {
            quantizer.Freeze(weight);
        }
        var frozen = quantizer.Frozen!;
        Assert.IsFalse(frozen.IsInvalid, "the caller's scope must not free the frozen weights");
        Assert.IsTrue(quantizer.call(weight * 3).BitEqual(expected), "evaluation still serves the frozen weights");

        quantizer.Dispose();
        Assert.IsTrue(frozen.IsInvalid, "disposing the module frees the frozen weights");
    }
}
