using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// Per-row scalars on the shapes of the reference's measurements: a ResNet weight matrix (512×4608) and an
/// activation matrix (32×65536). <see cref="SortAllRowsLs2"/> is the obvious exact method (full sort of every row,
/// the GPU path) and is the baseline the bracketing kernel is compared with in the same run.
/// </summary>
[MemoryDiagnoser(false)]
public class ScalarBenchmarks
{
    private Tensor _rows = null!;

    /// <summary>Matrix shape as rows×columns.</summary>
    [Params("512x4608", "32x65536")]
    public string Shape { get; set; } = "512x4608";

    /// <summary><c>avx2</c>: the vectorized float32 kernels; <c>scalar</c>: the same algorithm in scalar loops.</summary>
    [Params("avx2", "scalar")]
    public string Kernels { get; set; } = "avx2";

    /// <summary>Creates the Gaussian input once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NativeAllocator.Tune();
        VectorKernels.Disabled = Kernels == "scalar";
        var parts = Shape.Split('x');
        torch.manual_seed(0);
        _rows = torch.randn(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Releases the input.</summary>
    [GlobalCleanup]
    public void Cleanup() => _rows.Dispose();

    /// <summary>Exact ls-2 with the bracketing CPU kernel (the public entry point, validation included).</summary>
    [Benchmark]
    public void ExactLs2() => LeastSquaresQuantizer.ComputeScalars(_rows, QuantScheme.LeastSquares2).Dispose();

    /// <summary>Exact ls-T with the bracketing CPU kernel.</summary>
    [Benchmark]
    public void ExactLsT() => LeastSquaresQuantizer.ComputeScalars(_rows, QuantScheme.LeastSquaresTernary).Dispose();

    /// <summary>Exact ls-2 by sorting every row (prefix sums and argmax over all splits), on libtorch's CPU.</summary>
    [Benchmark(Baseline = true)]
    public void SortAllRowsLs2() => SortedSplitSolver.SolveTwoBit(_rows).Dispose();

    /// <summary>ls-1 (mean |x|) for scale.</summary>
    [Benchmark]
    public void Ls1() => LeastSquaresQuantizer.ComputeScalars(_rows, QuantScheme.LeastSquares1).Dispose();

    /// <summary>Scalars plus reconstruction for ls-2, what a quantizer does per forward pass.</summary>
    [Benchmark]
    public void ExactLs2WithReconstruction()
    {
        using var scope = NewDisposeScope();
        var scalars = LeastSquaresQuantizer.ComputeScalars(_rows, QuantScheme.LeastSquares2);
        LeastSquaresQuantizer.Quantize(_rows, scalars, QuantScheme.LeastSquares2);
    }
}
