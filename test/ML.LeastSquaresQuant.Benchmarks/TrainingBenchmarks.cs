using System.Linq;
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
/// One training step (forward, loss, backward, Adam step) and one evaluation batch of ResNet-18 (CIFAR stem,
/// width 64) on synthetic 3×32×32 images, on the CPU: the shapes of the reference's CPU measurements
/// (training batch 32, evaluation batch 100). Images/s = batch / mean time.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class TrainingBenchmarks
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private nn.Module<Tensor, Tensor>? _teacher;
    private OptimizerHelper _optimizer = null!;
    private Tensor _trainBatch = null!, _labels = null!, _evalBatch = null!;

    /// <summary>Activation/weight schemes; "+KD" distils from a full-precision teacher.</summary>
    [Params("fp/fp", "ls-1/ls-1", "ls-2/ls-1", "ls-2/ls-1+KD")]
    public string Config { get; set; } = "fp/fp";

    /// <summary>Builds the model, optimizer and batches.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(System.Environment.ProcessorCount);
        NativeAllocator.Tune();
        torch.manual_seed(0);
        var parts = Config.Split('+')[0].Split('/');
        LayerQuantization? quant = parts[0] == "fp" && parts[1] == "fp" ? null
            : new LayerQuantization(QuantScheme.Parse(parts[0]), QuantScheme.Parse(parts[1]), ActivationClamp.Symmetric(2));
        _model = QResNetArchitecture.ResNet18(100, 3, quant).Build();
        if (Config.EndsWith("+KD", System.StringComparison.Ordinal))
        {
            _teacher = QResNetArchitecture.ResNet18(100, 3).Build();
            _teacher.eval();
        }
        _optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 2e-4 }.Create(_model.parameters());
        _trainBatch = torch.randn(32, 3, 32, 32);
        _labels = torch.randint(0, 100, [32], dtype: ScalarType.Int64);
        _evalBatch = torch.randn(100, 3, 32, 32);
    }

    /// <summary>Releases tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _trainBatch.Dispose();
        _labels.Dispose();
        _evalBatch.Dispose();
        _model.Dispose();
        _teacher?.Dispose();
    }

    /// <summary>One training step on 32 images.</summary>
    [Benchmark]
    public void TrainStep32()
    {
        using var scope = NewDisposeScope();
        _model.train();
        TrainingLoop.Step(_model, _optimizer, _trainBatch, _labels, _teacher, 5, true);
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
