using System;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary><c>step-gradients IN QUANTIZED WIDTH</c>: one training step of a QResNet in float32 and in float64 (which
/// never reaches oneDNN); prints each parameter's relative gradient error, worst first.</summary>
internal static class StepGradients
{
    public static int Run(int inputChannels, bool quantized, int width)
    {
        var arch = QResNetArchitecture.ResNet18(4, inputChannels,
            quantized ? new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1) : null) with { Width = width };
        var single = Step(arch, ScalarType.Float32);
        var reference = Step(arch, ScalarType.Float64);
        var errors = reference.Zip(single).Select(p =>
        {
            double scale = p.First.Grad.abs().max().item<double>();
            double diff = (p.First.Grad - p.Second.Grad.to_type(ScalarType.Float64)).abs().max().item<double>();
            return (p.First.Name, Rel: diff / Math.Max(scale, 1e-30));
        }).OrderByDescending(e => e.Rel).Take(8);
        foreach (var (name, rel) in errors)
        {
            Console.WriteLine($"{rel:E2} {name}");
        }
        return 0;
    }

    private static (string Name, Tensor Grad)[] Step(QResNetArchitecture arch, ScalarType dtype)
    {
        manual_seed(21);
        var model = arch.Build();
        model.to(dtype);
        model.train();
        var images = randn(6, arch.InputChannels, 12, 12, dtype: ScalarType.Float64).to_type(dtype);
        var labels = tensor(new long[] { 0, 1, 2, 3, 0, 1 });
        nn.functional.cross_entropy(model.call(images), labels).backward();
        return model.named_parameters().Select(p => (p.name, p.parameter.grad!.detach().clone())).ToArray();
    }
}
