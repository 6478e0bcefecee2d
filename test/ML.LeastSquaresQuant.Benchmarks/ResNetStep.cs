using System;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// The workload of the CPU training benchmarks: ResNet-18 (CIFAR stem, width 64, 100 classes) on synthetic 3×32×32
/// images, a training step on 32 (Adam) and an evaluation batch of 100, the shapes of the reference's CPU measurements.
/// </summary>
internal sealed class ResNetStep : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly nn.Module<Tensor, Tensor>? _teacher;
    private readonly OptimizerHelper _optimizer;
    private readonly Tensor _trainBatch, _labels, _evalBatch;

    /// <summary>Builds the model for <paramref name="config"/> ("x/w", with "+KD" for distillation from an fp teacher).</summary>
    public ResNetStep(string config, double learningRate)
    {
        NativeAllocator.Tune();
        torch.manual_seed(0);
        var parts = config.Split('+')[0].Split('/');
        LayerQuantization? quant = parts[0] == "fp" && parts[1] == "fp" ? null
            : new LayerQuantization(QuantScheme.Parse(parts[0]), QuantScheme.Parse(parts[1]), ActivationClamp.Symmetric(2));
        _model = QResNetArchitecture.ResNet18(100, 3, quant).Build();
        if (config.EndsWith("+KD", StringComparison.Ordinal))
        {
            _teacher = QResNetArchitecture.ResNet18(100, 3).Build();
            _teacher.eval();
        }
        _optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = learningRate }.Create(_model.parameters());
        _trainBatch = torch.randn(32, 3, 32, 32);
        _labels = torch.randint(0, 100, [32], dtype: ScalarType.Int64);
        _evalBatch = torch.randn(100, 3, 32, 32);
    }

    /// <summary>One training step on 32 images.</summary>
    public void Train()
    {
        using var scope = NewDisposeScope();
        _model.train();
        TrainingLoop.Step(_model, _optimizer, _trainBatch, _labels, _teacher, 5, true);
    }

    /// <summary>One evaluation batch of 100 images.</summary>
    public void Evaluate()
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        _model.eval();
        _model.call(_evalBatch);
    }

    /// <summary>Releases tensors and modules.</summary>
    public void Dispose()
    {
        _trainBatch.Dispose();
        _labels.Dispose();
        _evalBatch.Dispose();
        _model.Dispose();
        _teacher?.Dispose();
    }
}
