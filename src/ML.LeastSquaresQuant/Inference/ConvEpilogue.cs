using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>The nonlinearity a fused block applies to a convolution's output.</summary>
internal enum EpilogueNonlinearity
{
    /// <summary>None (identity).</summary>
    None,

    /// <summary>max(y, 0).</summary>
    ReLU,

    /// <summary>y where y &gt; 0, else slope[o]·y (libtorch's PReLU).</summary>
    PReLU,
}

/// <summary>
/// What follows a binary convolution inside a fused block, applied to each float32 output value as libtorch would
/// apply the separate modules: y = nonlinearity(y), then y = y + residual (one float32 addition).
/// </summary>
internal sealed class ConvEpilogue
{
    /// <summary>No nonlinearity and no residual: the plain convolution.</summary>
    public static ConvEpilogue None { get; } = new(EpilogueNonlinearity.None, null);

    private readonly float[] _slopes;

    /// <summary>Creates the epilogue.</summary>
    /// <param name="nonlinearity">The nonlinearity.</param>
    /// <param name="slopes">PReLU only: one slope per output channel.</param>
    public ConvEpilogue(EpilogueNonlinearity nonlinearity, float[]? slopes)
    {
        if (nonlinearity == EpilogueNonlinearity.PReLU && slopes is null)
        {
            throw new ArgumentNullException(nameof(slopes), "A PReLU epilogue needs its slopes.");
        }
        Nonlinearity = nonlinearity;
        _slopes = slopes ?? [];
    }

    /// <summary>The nonlinearity.</summary>
    public EpilogueNonlinearity Nonlinearity { get; }

    /// <summary>Checks that the slopes cover <paramref name="outChannels"/> channels.</summary>
    public void Check(int outChannels)
    {
        if (Nonlinearity == EpilogueNonlinearity.PReLU && _slopes.Length != outChannels)
        {
            throw new ArgumentException($"The PReLU has {_slopes.Length} slopes for {outChannels} channels.");
        }
    }

    /// <summary>Applies the epilogue to the <paramref name="count"/> channels of <paramref name="pixels"/>
    /// consecutive output pixels.</summary>
    /// <param name="y">The pixels' outputs, pixel after pixel, overwritten.</param>
    /// <param name="residual">The pixels' residual values (same layout), or null for none.</param>
    /// <param name="count">Output channels O.</param>
    /// <param name="pixels">Pixels (1 or more).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Apply(float* y, float* residual, int count, int pixels = 1)
    {
        if (Nonlinearity == EpilogueNonlinearity.None && residual == null)
        {
            return;
        }
        fixed (float* slopes = _slopes)
        {
            for (int p = 0; p < pixels; p++, y += count, residual += residual == null ? 0 : count)
            {
                ApplyPixel(y, residual, slopes, count);
            }
        }
    }

    /// <summary>One pixel's <paramref name="count"/> channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void ApplyPixel(float* y, float* residual, float* slopes, int count)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; c + 8 <= count; c += 8)
            {
                var v = Vector256.Load(y + c);
                v = Nonlinearity switch
                {
                    EpilogueNonlinearity.ReLU => Vector256.Max(v, Vector256<float>.Zero),
                    EpilogueNonlinearity.PReLU => Vector256.ConditionalSelect(
                        Vector256.GreaterThan(v, Vector256<float>.Zero), v, v * Vector256.Load(slopes + c)),
                    _ => v,
                };
                if (residual != null)
                {
                    v += Vector256.Load(residual + c);
                }
                v.Store(y + c);
            }
        }
        for (; c < count; c++)
        {
            float v = y[c];
            v = Nonlinearity switch
            {
                EpilogueNonlinearity.ReLU => v > 0 ? v : 0,
                EpilogueNonlinearity.PReLU => v > 0 ? v : v * slopes[c],
                _ => v,
            };
            if (residual != null)
            {
                v += residual[c];
            }
            y[c] = v;
        }
    }
}
