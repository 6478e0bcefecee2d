using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// Scoring a batch with a trained-shape student (ls-2 activations, ls-1 weights, xnor blocks with double shortcut)
/// three ways, side by side: <c>engine</c> (binary convolutions, the transformer's default), <c>simulated</c> (float
/// convolutions of reconstructed quantized tensors, the transformer's float path) and <c>fp32</c> (the same
/// architecture with full-precision weights on libtorch float32). Weight values do not matter for speed.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class EngineBenchmarks
{
    private nn.Module<Tensor, Tensor> _network = null!;
    private Tensor _images = null!;

    /// <summary><c>resnet18-w64-c10</c>/<c>-c100</c>: the default student on 3×32×32; <c>sample-w16</c>: the sample's
    /// width-16, three-stage model on 1×28×28.</summary>
    [Params("resnet18-w64-c10", "resnet18-w64-c100", "sample-w16")]
    public string Model { get; set; } = "resnet18-w64-c10";

    /// <summary>Images per call.</summary>
    [Params(1, 64)]
    public int Batch { get; set; } = 1;

    /// <summary>How the convolutions are computed (see the class remarks).</summary>
    [Params("engine", "simulated", "fp32")]
    public string Path { get; set; } = "engine";

    /// <summary>Builds the network in evaluation mode with frozen weights, as the transformer holds it.</summary>
    [GlobalSetup]
    public void Setup()
    {
        manual_seed(1);
        var ls21 = new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1, ActivationClamp.Symmetric(2));
        var quantization = Path == "fp32" ? LayerQuantization.FullPrecision : ls21;
        bool sample = Model == "sample-w16";
        int stages = sample ? 3 : 4, channels = sample ? 1 : 3, size = sample ? 28 : 32;
        var architecture = QResNetArchitecture.ResNet18(Model.EndsWith("c100", StringComparison.Ordinal) ? 100 : 10, channels, ls21) with
        {
            Width = sample ? 16 : 64,
            BlocksPerStage = Enumerable.Repeat(2, stages).ToArray(),
            StageQuantization = Enumerable.Repeat(quantization, stages).ToArray(),
        };
        _network = architecture.Build();
        _network.eval();
        foreach (var module in _network.modules())
        {
            if (module is QuantConv2d conv)
            {
                conv.FreezeWeights();
            }
        }
        BinaryEngine.Use(_network, Path == "engine");
        _images = rand(Batch, channels, size, size).DetachFromDisposeScope();
    }

    /// <summary>Class logits for the batch.</summary>
    [Benchmark]
    public float Score()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _network.call(_images).data<float>()[0];
    }

    /// <summary>Frees the network.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _network.Dispose();
        _images.Dispose();
    }
}
