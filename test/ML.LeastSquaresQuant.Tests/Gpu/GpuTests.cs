using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Gpu;

/// <summary>
/// CUDA checks, run on the GPU machine only (CI's filter is TestCategory!=Gpu): pack the test project with
/// build/gpu-pack.sh and run it there with --filter "TestCategory=Gpu" (see docs/gpu.md). They fail where CUDA is missing.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class GpuTests
{
    [ClassInitialize]
    public static void RequireCuda(TestContext context) =>
        Assert.IsTrue(DeviceSelector.InitializeCuda(), "CUDA is not available: GPU tests run on the GPU machine (see README).");

    [TestMethod]
    public void TestExactScalarsOnCudaEqualTheCpuKernel()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var rows = torch.randn(128, 65536);
        foreach (var scheme in new[] { QuantScheme.LeastSquares2, QuantScheme.LeastSquaresTernary, QuantScheme.LeastSquares1, QuantScheme.Greedy(3) })
        {
            var cpu = LeastSquaresQuantizer.ComputeScalars(rows, scheme);
            var gpu = LeastSquaresQuantizer.ComputeScalars(rows.cuda(), scheme);
            Assert.AreEqual(DeviceType.CUDA, gpu.device_type, scheme.ToString());
            Assert.IsTrue(cpu.allclose(gpu.cpu(), rtol: 1e-5, atol: 1e-6), scheme.ToString());
            var quantized = LeastSquaresQuantizer.Quantize(rows.cuda(), gpu, scheme).cpu();
            Assert.IsTrue(quantized.allclose(LeastSquaresQuantizer.Quantize(rows, cpu, scheme), rtol: 1e-4, atol: 1e-4), scheme.ToString());
        }
    }

    [TestMethod]
    public void TestQuantizedResNetTrainsOnCuda()
    {
        torch.manual_seed(2);
        var model = QResNetArchitecture.ResNet18(4, 3, LayerQuantization.Parse("ls-2", "ls-1", ActivationClamp.Symmetric(2)), width: 8).Build();
        using var data = SyntheticImages.Make(64, 4, 3, 16, seed: 3);
        var result = TrainingLoop.Run(model, data, data, new TrainingOptions
        {
            Epochs = 20, BatchSize = 16, Device = "cuda", FallbackToCpu = false,
            Optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 3e-3 },
        });
        Assert.AreEqual(DeviceType.CUDA, result.Device.type);
        Assert.IsGreaterThanOrEqualTo(0.95, result.History[^1].ValidationTop1!.Value);
        Assert.IsTrue(model.parameters().All(p => p.device_type == DeviceType.CUDA));
    }
}
