using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Modules;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// What routing the CPU convolutions around oneDNN's defects costs (docs/robustness.md): the <see cref="ResNetStep"/>
/// workload with <c>routed</c> convolutions (the library's) and <c>plain</c> libtorch ones on the same channels-last
/// activations. The plain ones are only timed: they are not correct for every shape.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class ConvolutionRoutingBenchmarks
{
    private ResNetStep _step = null!;

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
        Convolution.Plain = Convolutions == "plain";
        _step = new ResNetStep(Config, learningRate: 1e-3);
    }

    /// <summary>Releases tensors and restores the routing.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Convolution.Plain = false;
        _step.Dispose();
    }

    /// <summary>One training step on 32 images.</summary>
    [Benchmark]
    public void TrainStep32() => _step.Train();

    /// <summary>One evaluation batch of 100 images.</summary>
    [Benchmark]
    public void Eval100() => _step.Evaluate();
}
