using ML.LeastSquaresQuant.Modules;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Modules;

/// <summary>
/// <see cref="Conv2dLayer.UseCpuKernel"/>: evaluation passes without gradients take the C# kernel (the engine's
/// arithmetic) and agree with libtorch's convolution within float32 rounding; training passes and passes that
/// record gradients stay on libtorch, so training is unchanged.
/// </summary>
[TestClass]
public sealed class Conv2dLayerTests
{
    [TestMethod]
    [DataRow(3, 64, 3, 1, 1, 9)]   // CIFAR stem
    [DataRow(3, 16, 7, 2, 3, 13)]  // ImageNet stem
    [DataRow(24, 48, 1, 2, 0, 6)]  // down-sampling shortcut
    public void TestCpuKernelScoresLikeLibtorchAndOnlyInEvaluation(int c, int o, int k, int s, int p, int size)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var layer = new Conv2dLayer(c, o, k, stride: s, padding: p, bias: true);
        var x = randn(2, c, size, size);
        layer.eval();
        Tensor reference;
        using (no_grad())
        {
            reference = layer.call(x);
            layer.UseCpuKernel(true);
            Assert.IsNotNull(layer.CpuKernel);
            var cpu = layer.call(x);
            CollectionAssert.AreEqual(reference.shape, cpu.shape, "output shape");
            Assert.IsTrue(ChannelsLast.Is(cpu), "the kernel's output is channels-last");
            double scale = reference.abs().max().item<float>();
            Assert.IsLessThanOrEqualTo(1e-5 * scale, (cpu - reference).abs().max().item<float>(), "C# kernel vs libtorch");
            // The module's output is the kernel's, bit for bit.
            var nhwc = x.permute(0, 2, 3, 1).contiguous().data<float>().ToArray();
            var direct = new float[cpu.numel()];
            layer.CpuKernel!.Forward(nhwc, 2, size, size, direct);
            CollectionAssert.AreEqual(direct, cpu.permute(0, 2, 3, 1).contiguous().data<float>().ToArray(), "module vs kernel");

            // Training mode stays on libtorch even without gradients.
            layer.train();
            Assert.IsTrue(layer.call(x).eq(reference).all().item<bool>(), "training mode gives libtorch's convolution");
        }

        // A pass that records gradients (training) still reaches the weights through libtorch.
        layer.train();
        var loss = layer.call(x).sum();
        loss.backward();
        Assert.IsNotNull(layer.Weight.grad, "the weight gets a gradient in training");
        Assert.IsGreaterThan(0f, layer.Weight.grad!.abs().sum().item<float>(), "a non-zero gradient");

        layer.UseCpuKernel(false);
        Assert.IsNull(layer.CpuKernel);
    }
}
