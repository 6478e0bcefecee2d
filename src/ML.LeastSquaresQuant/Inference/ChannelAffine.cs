using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// A batch norm in evaluation mode followed by a clamp, per channel of NHWC pixels:
/// y = min(max(fma(x, scale, shift), lower), upper): with ±α the activation clamp before a fused binary convolution
/// (<see cref="PackedActivations.PackFused"/>), with [0, ∞) a ReLU.
/// </summary>
/// <remarks>
/// The arithmetic is libtorch's own for a float32 batch norm on the CPU, so the fused engine sees bit-identical
/// values: invstd = 1 / sqrt(var + eps) and scale = invstd·γ in float32, shift = fma(−mean, scale, β), output
/// fma(x, scale, shift) (its vectorized kernel is compiled with fused multiply-add). A test holds the two equal.
/// </remarks>
internal sealed class ChannelAffine
{
    private readonly float[] _scale;
    private readonly float[] _shift;

    private ChannelAffine(float[] scale, float[] shift, float lower, float upper)
    {
        _scale = scale;
        _shift = shift;
        Lower = lower;
        Upper = upper;
    }

    /// <summary>Channels C.</summary>
    public int Channels => _scale.Length;

    /// <summary>The lower clamp bound (−∞ for none).</summary>
    public float Lower { get; }

    /// <summary>The upper clamp bound (+∞ for none).</summary>
    public float Upper { get; }

    /// <summary>The batch norm y = (x − mean)/sqrt(var + eps)·γ + β, then the clamp to [<paramref name="lower"/>, <paramref name="upper"/>].</summary>
    public static ChannelAffine FromBatchNorm(ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, double eps, double lower, double upper)
    {
        int c = mean.Length;
        if (variance.Length != c || gamma.Length != c || beta.Length != c)
        {
            throw new ArgumentException($"Batch norm statistics of {c}, {variance.Length}, {gamma.Length} and {beta.Length} channels disagree.");
        }
        var scale = new float[c];
        var shift = new float[c];
        for (int i = 0; i < c; i++)
        {
            float invstd = 1f / MathF.Sqrt(variance[i] + (float)eps);
            scale[i] = invstd * gamma[i];
            shift[i] = MathF.FusedMultiplyAdd(-mean[i], scale[i], beta[i]);
        }
        return new ChannelAffine(scale, shift, (float)lower, (float)upper);
    }

    /// <summary>Applies the map to whole pixels of <paramref name="x"/> into <paramref name="y"/> (same length).</summary>
    public unsafe void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != y.Length || x.Length % Channels != 0)
        {
            throw new ArgumentException($"{x.Length} inputs and {y.Length} outputs are not whole pixels of {Channels} channels.");
        }
        fixed (float* source = x, target = y)
        {
            Apply(source, target, x.Length / Channels);
        }
    }

    /// <summary>Applies the map in place to <paramref name="batch"/> samples of <paramref name="pixels"/> pixels of C
    /// channels each at <paramref name="x"/>, samples in parallel when there is enough work.</summary>
    public unsafe void ApplyInPlace(float* x, int batch, long pixels)
    {
        if (batch <= 1 || (long)batch * pixels * Channels < ParallelThreshold || !EngineParallel.Enabled)
        {
            Apply(x, x, batch * pixels);
            return;
        }
        nint start = (nint)x;
        long stride = pixels * Channels;
        EngineParallel.For(batch, true, i =>
        {
            float* sample = (float*)start + i * stride;
            Apply(sample, sample, pixels);
        });
    }

    private const long ParallelThreshold = 1 << 16;

    /// <summary>Applies the map to <paramref name="pixels"/> pixels of C channels from <paramref name="x"/> into <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Apply(float* x, float* y, long pixels)
    {
        int c = Channels;
        float lower = Lower, upper = Upper;
        fixed (float* scale = _scale, shift = _shift)
        {
            for (long p = 0; p < pixels; p++)
            {
                float* src = x + p * c, dst = y + p * c;
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var hi = Vector512.Create(upper);
                    var lo = Vector512.Create(lower);
                    for (; i + 16 <= c; i += 16)
                    {
                        var v = Vector512.FusedMultiplyAdd(Vector512.Load(src + i), Vector512.Load(scale + i), Vector512.Load(shift + i));
                        Vector512.Min(Vector512.Max(v, lo), hi).Store(dst + i);
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    var hi = Vector256.Create(upper);
                    var lo = Vector256.Create(lower);
                    for (; i + 8 <= c; i += 8)
                    {
                        var v = Vector256.FusedMultiplyAdd(Vector256.Load(src + i), Vector256.Load(scale + i), Vector256.Load(shift + i));
                        Vector256.Min(Vector256.Max(v, lo), hi).Store(dst + i);
                    }
                }
                for (; i < c; i++)
                {
                    dst[i] = Math.Min(Math.Max(MathF.FusedMultiplyAdd(src[i], scale[i], shift[i]), lower), upper);
                }
            }
        }
    }
}
