using System;
using System.Collections.Generic;
using System.Globalization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// Single convolutions in float32 against the same computation in float64 (which libtorch never hands to oneDNN):
/// the forward pass, the input gradient and the weight gradient, in NCHW and channels-last.
/// </summary>
internal static class ConvSweep
{
    public record Config(int Kernel, int Stride, int InChannels, int OutChannels, bool ChannelsLast)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"k{Kernel} s{Stride} in{InChannels} out{OutChannels} {(ChannelsLast ? "nhwc" : "nchw")}");
    }

    /// <summary>
    /// Relative errors (max |a − b| / max |b|) of forward, input gradient and weight gradient of a batch of two, and
    /// of the gradient-free forward pass of one image and of the batch (scoring; libtorch may pick other kernels).
    /// </summary>
    public static (double Forward, double InputGrad, double WeightGrad, double Scoring) Measure(Config c,
        Func<Tensor, Tensor, long, long, Tensor> conv, int batch = 2, int size = 9)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)c.GetHashCode() & 0xFFFF);
        var x64 = randn([batch, c.InChannels, size, size], dtype: ScalarType.Float64, generator: generator);
        var w64 = randn([c.OutChannels, c.InChannels, c.Kernel, c.Kernel], dtype: ScalarType.Float64, generator: generator)
            .div_(Math.Sqrt(c.InChannels * c.Kernel * c.Kernel));
        var g64 = randn([batch, c.OutChannels, (size + 2 * (c.Kernel / 2) - c.Kernel) / c.Stride + 1,
            (size + 2 * (c.Kernel / 2) - c.Kernel) / c.Stride + 1], dtype: ScalarType.Float64, generator: generator);
        var (y64, gx64, gw64) = Run(x64, w64, g64, c, conv);
        var x32 = x64.to_type(ScalarType.Float32);
        var w32 = w64.to_type(ScalarType.Float32);
        var g32 = g64.to_type(ScalarType.Float32);
        if (c.ChannelsLast)
        {
            x32 = ToChannelsLast(x32);
            g32 = ToChannelsLast(g32);
        }
        var (y32, gx32, gw32) = Run(x32, w32, g32, c, conv);
        double scoring;
        using (no_grad())
        {
            scoring = Math.Max(Rel(conv(x32.narrow(0, 0, 1), w32, c.Stride, c.Kernel / 2), y64.narrow(0, 0, 1)),
                Rel(conv(x32, w32, c.Stride, c.Kernel / 2), y64));
        }
        return (Rel(y32, y64), Rel(gx32, gx64), Rel(gw32, gw64), scoring);
    }

    private static (Tensor, Tensor, Tensor) Run(Tensor x, Tensor w, Tensor g, Config c, Func<Tensor, Tensor, long, long, Tensor> conv)
    {
        var xl = x.detach().requires_grad_(true);
        var wl = w.detach().requires_grad_(true);
        var y = conv(xl, wl, c.Stride, c.Kernel / 2);
        // A copy before the backward pass: a kernel that writes out of bounds must not hide behind a changed output.
        var forward = y.detach().clone();
        y.backward([g]);
        return (forward, xl.grad!.detach(), wl.grad!.detach());
    }

    public static Tensor ToChannelsLast(Tensor x)
    {
        using var physical = x.permute(0, 2, 3, 1).contiguous();
        return physical.permute(0, 3, 1, 2);
    }

    private static double Rel(Tensor a, Tensor b)
    {
        double scale = b.abs().max().item<double>();
        double err = (a.to_type(ScalarType.Float64) - b).abs().max().item<double>();
        return double.IsFinite(err) ? err / Math.Max(scale, 1e-30) : double.PositiveInfinity;
    }

    /// <summary>Channel counts: small ones, both sides of the vector blocks (8 for AVX2, 16 for AVX-512), LeNet-5's.</summary>
    public static readonly int[] Channels = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 24, 31, 32, 33, 48, 50, 63, 64];

    /// <summary>A subset of <see cref="Channels"/> that keeps every kind of count, for the test suite.</summary>
    public static readonly int[] QuickChannels = [1, 3, 4, 8, 9, 16, 17, 20, 50, 64];

    /// <summary>Wider counts with small images, as in a network's last stages.</summary>
    public static readonly int[] WideChannels = [12, 24, 48, 96, 100, 128];

    public static IEnumerable<Config> All(IReadOnlyList<int> kernels, IReadOnlyList<int> channels)
    {
        foreach (int k in kernels)
        foreach (int s in new[] { 1, 2 })
        foreach (int cin in channels)
        foreach (int cout in channels)
        foreach (bool cl in new[] { false, true })
        {
            yield return new Config(k, s, cin, cout, cl);
        }
    }
}
