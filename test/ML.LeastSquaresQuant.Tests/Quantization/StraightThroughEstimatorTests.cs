using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Quantization;

[TestClass]
public sealed class StraightThroughEstimatorTests
{
    [TestMethod]
    public void TestForwardIsQuantizedAndGradientHasExactMask()
    {
        using var scope = NewDisposeScope();
        double[] values = [-2.5, -1.0, -0.999, -0.3, 0.0, 0.4, 1.0, 1.0001, 3.0];
        var x = TensorTestData.Rows(ScalarType.Float32, values).requires_grad_(true);
        var scalars = LeastSquaresQuantizer.ComputeScalars(x, QuantScheme.LeastSquares2);
        var quantized = LeastSquaresQuantizer.Quantize(x.detach(), scalars, QuantScheme.LeastSquares2);

        var y = StraightThroughEstimator.Apply(x, quantized);
        Assert.IsTrue(y.BitEqual(quantized), "forward must be bit-for-bit the quantized tensor");

        var upstream = torch.arange(1, values.Length + 1, dtype: ScalarType.Float32).reshape(1, -1);
        y.backward([upstream]);
        var grad = TensorTestData.Values(x.grad!);
        var expected = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            expected[i] = System.Math.Abs((float)values[i]) <= 1 ? i + 1 : 0;
        }
        CollectionAssert.AreEqual(expected, grad);
    }

    [TestMethod]
    public void TestEstimatorIsSkippedOnlyWhereNoGradientCanFlow()
    {
        using var scope = NewDisposeScope();
        var x = torch.randn(2, 8).requires_grad_(true);
        var quantized = torch.sign(x.detach()) * 0.5f;

        var trained = StraightThroughEstimator.ApplyIfNeeded(x, quantized);
        Assert.IsTrue(trained.requires_grad, "a gradient can flow: the estimator is applied");
        trained.sum().backward();
        Assert.IsTrue(x.grad!.BitEqual(x.detach().abs().le(1).to_type(ScalarType.Float32)), "straight-through mask");

        using (torch.no_grad())
        {
            var evaluated = StraightThroughEstimator.ApplyIfNeeded(x, quantized);
            Assert.IsFalse(evaluated.requires_grad);
            Assert.IsTrue(evaluated.BitEqual(quantized));
        }
        var frozen = StraightThroughEstimator.ApplyIfNeeded(x.detach(), quantized);
        Assert.IsFalse(frozen.requires_grad);
        Assert.IsTrue(frozen.BitEqual(quantized));
    }
}
