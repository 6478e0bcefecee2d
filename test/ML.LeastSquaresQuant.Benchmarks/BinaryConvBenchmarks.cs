using System;
using BenchmarkDotNet.Attributes;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// One ResNet-18 (width 64, CIFAR) body layer: 64→64 channels, 3×3, stride 1, padding 1, 32×32 input, with ls-2
/// activations (2 planes) and ls-1 weights (1 plane) on the pure C# bit-plane engine, per kernel path, next to
/// libtorch's float32 convolution of the same shape (<c>Engine = libtorch</c>, the baseline; run it with
/// <c>ONEDNN_MAX_CPU_ISA=AVX2</c> on CPUs where oneDNN's AVX-512 kernels misbehave).
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class BinaryConvBenchmarks
{
    private const int Channels = 64, Size = 32, Kernel = 3;
    private float[] _activations = [];
    private float[] _scalars = [];
    private float[] _output = [];
    private readonly PackedActivations _packed = new();
    private BinaryConv2d _layer = null!;
    private Tensor _input = null!;
    private Tensor _weight = null!;

    /// <summary>Batch size N.</summary>
    [Params(1, 64)]
    public int Batch { get; set; } = 1;

    /// <summary><c>avx512vbmi</c>, <c>avx512</c>, <c>avx2</c>, <c>portable</c>: the binary kernels; <c>libtorch</c>:
    /// float32 conv2d.</summary>
    [Params("avx512vbmi", "avx512", "avx2", "portable", "libtorch")]
    public string Engine { get; set; } = "avx512vbmi";

    private BinaryKernelPath Path => Engine switch
    {
        "avx512vbmi" => BinaryKernelPath.Avx512Vbmi,
        "avx512" => BinaryKernelPath.Avx512,
        "avx2" => BinaryKernelPath.Avx2,
        _ => BinaryKernelPath.Portable,
    };

    /// <summary>Random activations and weights, quantized and packed once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _activations = new float[Batch * Size * Size * Channels];
        for (int i = 0; i < _activations.Length; i++)
        {
            _activations[i] = (float)random.NextDouble() * 2;
        }
        _scalars = new float[Batch * 2];
        for (int n = 0; n < Batch; n++)
        {
            _scalars[2 * n] = 1f;
            _scalars[2 * n + 1] = 0.5f;
        }
        var latent = new float[Channels * Channels * Kernel * Kernel];
        for (int i = 0; i < latent.Length; i++)
        {
            latent[i] = (float)(random.NextDouble() - 0.5);
        }
        var alpha = new float[Channels];
        Array.Fill(alpha, 0.25f);
        _layer = new BinaryConv2d(PackedConvWeights.FromLatent(latent, alpha, Channels, Channels, Kernel, 1).ToKernelLayout(),
            new float[Channels], 1, 1);
        _output = new float[Batch * Size * Size * Channels];
        _packed.Pack(_activations, _scalars, Batch, Size, Size, Channels, 2);
        if (Engine == "libtorch")
        {
            NativeAllocator.Tune();
            _input = torch.tensor(_activations, [Batch, Channels, Size, Size]);
            _weight = torch.tensor(latent, [Channels, Channels, Kernel, Kernel]);
        }
        else if (!BinaryKernels.IsSupported(Path))
        {
            throw new PlatformNotSupportedException($"This CPU cannot run the {Path} kernel.");
        }
    }

    /// <summary>Releases the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _input?.Dispose();
        _weight?.Dispose();
    }

    /// <summary>The convolution on already packed activations (libtorch: conv2d).</summary>
    [Benchmark]
    public void Convolve()
    {
        if (Engine == "libtorch")
        {
            LibTorchConv();
            return;
        }
        _layer.Forward(_packed, _output, Path);
    }

    /// <summary>Packing the float activations into planes, then the convolution: the whole per-layer cost
    /// (libtorch: conv2d, which has no packing step).</summary>
    [Benchmark]
    public void PackAndConvolve()
    {
        if (Engine == "libtorch")
        {
            LibTorchConv();
            return;
        }
        _packed.Pack(_activations, _scalars, Batch, Size, Size, Channels, 2);
        _layer.Forward(_packed, _output, Path);
    }

    private void LibTorchConv()
    {
        using var guard = torch.no_grad();
        using var result = nn.functional.conv2d(_input, _weight, null, [1, 1], [1, 1]);
    }
}
