using BenchmarkDotNet.Attributes;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// One training step (forward, loss, backward, Adam step) and one evaluation batch of ResNet-18 (CIFAR stem,
/// width 64) on synthetic 3×32×32 images, on the CPU: the shapes of the reference's CPU measurements
/// (training batch 32, evaluation batch 100). Images/s = batch / mean time.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class TrainingBenchmarks
{
    private ResNetStep _step = null!;

    /// <summary>Activation/weight schemes; "+KD" distils from a full-precision teacher.</summary>
    [Params("fp/fp", "ls-1/ls-1", "ls-2/ls-1", "ls-2/ls-1+KD")]
    public string Config { get; set; } = "fp/fp";

    /// <summary>Builds the model, optimizer and batches.</summary>
    [GlobalSetup]
    public void Setup()
    {
        TorchSharp.torch.set_num_threads(System.Environment.ProcessorCount);
        _step = new ResNetStep(Config, learningRate: 2e-4);
    }

    /// <summary>Releases tensors.</summary>
    [GlobalCleanup]
    public void Cleanup() => _step.Dispose();

    /// <summary>One training step on 32 images.</summary>
    [Benchmark]
    public void TrainStep32() => _step.Train();

    /// <summary>One evaluation batch of 100 images.</summary>
    [Benchmark]
    public void Eval100() => _step.Evaluate();
}
