using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// A classifier head in C#: the average of each channel over an image's pixels, then a fully connected layer,
/// logits = W·mean + b, on channels-last float32 memory. It ends a network scored on the binary engine so that the
/// pass makes no libtorch call (see <see cref="FloatConv2d"/> for why).
/// </summary>
/// <remarks>
/// A channel's mean is its float32 sum over the pixels in memory order divided by the pixel count; a logit is one
/// chain of fused multiply-adds over the channels in order, from zero, plus the bias. Each value is computed alone in
/// its vector lane (or without vectors, with the same operations), so every CPU gives the same bits.
/// </remarks>
internal sealed unsafe class GlobalPoolLinear
{
    private const int Lanes = 8;

    private readonly float[] _weights;
    private readonly float[] _bias;
    private readonly int _paddedClasses;

    /// <summary>Copies the weights [classes, channels] and the bias [classes] (or none).</summary>
    public GlobalPoolLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int classes, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (weight.Length != (long)classes * channels || (bias.Length != 0 && bias.Length != classes))
        {
            throw new ArgumentException($"A {classes}×{channels} classifier got {weight.Length} weights and {bias.Length} biases.");
        }
        (Classes, Channels) = (classes, channels);
        _paddedClasses = (classes + Lanes - 1) / Lanes * Lanes;
        _weights = new float[checked((long)channels * _paddedClasses)];
        for (int o = 0; o < classes; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                _weights[c * _paddedClasses + o] = weight[o * channels + c];
            }
        }
        _bias = new float[_paddedClasses];
        bias.CopyTo(_bias);
    }

    /// <summary>Classes (logits per image).</summary>
    public int Classes { get; }

    /// <summary>Input channels C.</summary>
    public int Channels { get; }

    /// <summary>The bytes the head's copy of the weights and bias holds.</summary>
    public long HeldBytes => ((long)_weights.Length + _bias.Length) * sizeof(float);

    /// <summary>Logits [N, classes] into <paramref name="logits"/> for <paramref name="x"/> [N, pixels, C] after
    /// checking their lengths.</summary>
    public void Forward(ReadOnlySpan<float> x, int batch, long pixels, Span<float> logits)
    {
        if (batch < 0 || pixels < 1 || x.Length != batch * pixels * Channels || logits.Length != (long)batch * Classes)
        {
            throw new ArgumentException($"{batch} images of {pixels}×{Channels} values and {Classes} logits each do not match {x.Length} inputs and {logits.Length} outputs.");
        }
        fixed (float* xp = x, yp = logits)
        {
            Forward(xp, batch, pixels, yp);
        }
    }

    /// <summary>Logits [N, classes] into <paramref name="logits"/> for <paramref name="x"/> [N, pixels, C].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public void Forward(float* x, int batch, long pixels, float* logits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixels);
        int c = Channels, vectorChannels = c / Lanes * Lanes;
        var mean = new float[c];
        var row = new float[_paddedClasses];
        float count = pixels;
        fixed (float* m = mean, r = row, w = _weights, b = _bias)
        {
            for (int n = 0; n < batch; n++)
            {
                float* image = x + n * pixels * c;
                int i = 0;
                for (; i < vectorChannels; i += Lanes)
                {
                    var sum = Vector256<float>.Zero;
                    for (long p = 0; p < pixels; p++)
                    {
                        sum += Vector256.Load(image + p * c + i);
                    }
                    (sum / Vector256.Create(count)).Store(m + i);
                }
                for (; i < c; i++)
                {
                    float sum = 0;
                    for (long p = 0; p < pixels; p++)
                    {
                        sum += image[p * c + i];
                    }
                    m[i] = sum / count;
                }
                for (int o = 0; o < _paddedClasses; o += Lanes)
                {
                    var acc = Vector256<float>.Zero;
                    for (int channel = 0; channel < c; channel++)
                    {
                        acc = Vector256.FusedMultiplyAdd(Vector256.Load(w + (long)channel * _paddedClasses + o), Vector256.Create(m[channel]), acc);
                    }
                    (acc + Vector256.Load(b + o)).Store(r + o);
                }
                new ReadOnlySpan<float>(r, Classes).CopyTo(new Span<float>(logits + (long)n * Classes, Classes));
            }
        }
    }
}
