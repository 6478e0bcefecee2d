using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// Scoring a batch with a trained-shape student (ls-2 activations, ls-1 weights, xnor blocks with double shortcut),
/// side by side: <c>engine</c> (the binary engine, the transformer's default, with the float weights released as
/// the transformer does), <c>float-path</c> (the transformer's <c>UseBinaryEngine = false</c>: libtorch
/// convolutions of the sign planes in the engine's arithmetic), <c>simulated</c> (float convolutions of the
/// reconstructed quantized tensors, as training computes and as the float path scored before the engine),
/// <c>engine-ma</c> (the engine on the same student trained with moving-average activation scalars,
/// <see cref="MovingAverageMode.EvalOnly"/>: scoring uses the stored averages instead of solving each sample's
/// exact scalars) and <c>fp32</c> (the same architecture with full-precision weights on libtorch float32). The
/// <c>-tuned</c> cases run after <see cref="NativeAllocator.Tune"/>, the allocator setting a program opts into (each
/// case runs in its own process). Weight values do not matter for speed.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 6)]
public class EngineBenchmarks
{
    private nn.Module<Tensor, Tensor> _network = null!;
    private Tensor _images = null!;

    /// <summary><c>resnet18-w64-c10</c>/<c>-c100</c>: the default student on 3×32×32; <c>sample-w16</c>: the sample's
    /// width-16, three-stage model on 1×28×28.</summary>
    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "resnet18-w64-c10";

    /// <summary>Every model, or the comma-separated list in the environment variable <c>LSQ_ENGINE_MODELS</c>.</summary>
    public static string[] Models => List("LSQ_ENGINE_MODELS") ?? ["resnet18-w64-c10", "resnet18-w64-c100", "sample-w16"];

    /// <summary>Images per call.</summary>
    [Params(1, 64)]
    public int Batch { get; set; } = 1;

    /// <summary>How the network is scored (see the class summary).</summary>
    [ParamsSource(nameof(Paths))]
    public string Path { get; set; } = "engine";

    /// <summary>Every path, or the comma-separated list in the environment variable <c>LSQ_ENGINE_PATHS</c> (for a
    /// second run with other CPU features switched off through BenchmarkDotNet's <c>--envVars</c>, docs/benchmarks.md).</summary>
    public static string[] Paths =>
        List("LSQ_ENGINE_PATHS") ?? ["engine", "engine-tuned", "engine-ma", "float-path", "simulated", "fp32", "fp32-tuned"];

    private static string[]? List(string variable) =>
        Environment.GetEnvironmentVariable(variable)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Builds the network in evaluation mode with frozen weights, as the transformer holds it.</summary>
    [GlobalSetup]
    public void Setup()
    {
        if (Path.EndsWith("-tuned", StringComparison.Ordinal))
        {
            NativeAllocator.Tune();
        }
        string path = Path.Replace("-tuned", "", StringComparison.Ordinal);
        bool averages = path == "engine-ma";
        path = averages ? "engine" : path;
        manual_seed(1);
        var ls21 = new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1, ActivationClamp.Symmetric(2),
            averages ? MovingAverageMode.EvalOnly : MovingAverageMode.Off);
        var quantization = path == "fp32" ? LayerQuantization.FullPrecision : ls21;
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
            if (module is ActivationQuantizer { RunningScalars: { } running })
            {
                // Typical trained averages of ls-2 scalars for activations clamped to ±2 (v1 > v2 > 0).
                using var typical = tensor(new[] { 0.8f, 0.35f });
                running.copy_(typical);
            }
            if (module is QuantConv2d conv)
            {
                conv.FreezeWeights();
                if (path == "engine")
                {
                    conv.ReleaseFloatWeights();
                }
            }
        }
        if (path is "engine" or "float-path")
        {
            BinaryEngine.Use(_network, path == "engine");
        }
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
