using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// What routing the CPU convolutions around oneDNN's defects costs (docs/robustness.md): ResNet-18 (CIFAR stem,
/// width 64, 100 classes) training step on 32 images and evaluation of 100, with <c>routed</c> convolutions (the
/// library's) and <c>plain</c> libtorch ones on the same channels-last activations. The plain ones are only timed:
/// they are not correct for every shape.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class ConvolutionRoutingBenchmarks
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private OptimizerHelper _optimizer = null!;
    private Tensor _trainBatch = null!, _labels = null!, _evalBatch = null!;

    /// <summary>Activation/weight schemes of every stage.</summary>
    [Params("fp/fp", "ls-2/ls-1")]
    public string Config { get; set; } = "fp/fp";

    /// <summary><c>routed</c>: <see cref="Convolution"/>'s routes; <c>plain</c>: libtorch's conv2d for every layer.</summary>
    [Params("routed", "plain")]
    public string Convolutions { get; set; } = "routed";

    /// <summary>Builds the model, optimizer and batches.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NativeAllocator.Tune();
        ML.LeastSquaresQuant.Modules.Convolution.Plain = Convolutions == "plain";
        torch.manual_seed(0);
        var parts = Config.Split('/');
        LayerQuantization? quant = parts[0] == "fp" ? null
            : new LayerQuantization(QuantScheme.Parse(parts[0]), QuantScheme.Parse(parts[1]), ActivationClamp.Symmetric(2));
        _model = QResNetArchitecture.ResNet18(100, 3, quant).Build();
        _optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3 }.Create(_model.parameters());
        _trainBatch = torch.randn(32, 3, 32, 32);
        _labels = torch.randint(0, 100, [32], dtype: ScalarType.Int64);
        _evalBatch = torch.randn(100, 3, 32, 32);
    }

    /// <summary>Releases tensors and restores the routing.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ML.LeastSquaresQuant.Modules.Convolution.Plain = false;
        _trainBatch.Dispose();
        _labels.Dispose();
        _evalBatch.Dispose();
        _model.Dispose();
    }

    /// <summary>One training step on 32 images.</summary>
    [Benchmark]
    public void TrainStep32()
    {
        using var scope = NewDisposeScope();
        _model.train();
        TrainingLoop.Step(_model, _optimizer, _trainBatch, _labels, null, 5, true);
    }

    /// <summary>One evaluation batch of 100 images.</summary>
    [Benchmark]
    public void Eval100()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        _model.eval();
        _model.call(_evalBatch);
    }
}
