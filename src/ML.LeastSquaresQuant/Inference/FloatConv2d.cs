using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// A full-precision 2-D convolution (square kernel, stride, zero padding, optional bias) on channels-last float32
/// memory, in C#: the stem and the down-sampling shortcuts of a network scored on the binary engine. With them in
/// C# a pass makes no libtorch call between its binary convolutions; after each libtorch call its OpenMP threads
/// spin for several milliseconds and take a core from the engine's threads (docs/inference.md).
/// </summary>
/// <remarks>
/// Each output value is one chain of fused multiply-adds over the kernel taps in (row, column, input channel)
/// order, starting from zero, taps that fall in the padding skipped, then plus the bias. A value computes the same
/// chain in any lane of any vector width and without vectors (Vector256.FusedMultiplyAdd falls back
/// to MathF.FusedMultiplyAdd lane by lane), so every CPU gives the same bits.
/// </remarks>
internal sealed unsafe class FloatConv2d
{
    private const int Lanes = 8;
    /// <summary>Output channels per tile: four vectors for each of two pixels, 8 accumulators and 4 weight vectors,
    /// which fit AVX2's 16 registers.</summary>
    private const int ChannelBlock = 4 * Lanes;
    /// <summary>Multiply-adds below which a call stays on the calling thread: about 60 µs of one core, below which
    /// waking a pool thread cost more than it saved (the width-16 sample's stem and shortcuts at batch 1).</summary>
    private const long ParallelThreshold = 1 << 18;

    private readonly float[] _weights;
    private readonly float[] _bias;
    private readonly int _paddedOut;

    /// <summary>Copies the weights [O, C, K, K] (and the bias [O], or none) into the kernel's layout.</summary>
    public FloatConv2d(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outChannels, int inChannels, int kernel, int stride, int padding)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        long taps = (long)kernel * kernel;
        if (weight.Length != (long)outChannels * inChannels * taps || (bias.Length != 0 && bias.Length != outChannels))
        {
            throw new ArgumentException($"A {outChannels}×{inChannels}×{kernel}×{kernel} convolution got {weight.Length} weights and {bias.Length} biases.");
        }
        (OutChannels, InChannels, Kernel, Stride, Padding) = (outChannels, inChannels, kernel, stride, padding);
        _paddedOut = (outChannels + ChannelBlock - 1) / ChannelBlock * ChannelBlock;
        _weights = new float[checked(taps * inChannels * _paddedOut)];
        for (int o = 0; o < outChannels; o++)
        {
            for (int c = 0; c < inChannels; c++)
            {
                for (int t = 0; t < taps; t++)
                {
                    _weights[(t * inChannels + c) * _paddedOut + o] = weight[(int)(((long)o * inChannels + c) * taps + t)];
                }
            }
        }
        _bias = new float[_paddedOut];
        bias.CopyTo(_bias);
    }

    /// <summary>Output channels O.</summary>
    public int OutChannels { get; }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }

    /// <summary>Kernel height and width K.</summary>
    public int Kernel { get; }

    /// <summary>Step between output positions, in input pixels.</summary>
    public int Stride { get; }

    /// <summary>Zeros added on each side of the input.</summary>
    public int Padding { get; }

    /// <summary>The bytes the kernel's copy of the weights and bias holds.</summary>
    public long HeldBytes => ((long)_weights.Length + _bias.Length) * sizeof(float);

    /// <summary>Output height or width for an input of <paramref name="size"/> pixels (at least 1; checked by
    /// <c>Forward</c>).</summary>
    public int OutputSize(int size) => (size + 2 * Padding - Kernel) / Stride + 1;

    /// <summary>Convolves <paramref name="x"/> [N, H, W, C] into <paramref name="y"/> [N, H', W', O] after checking
    /// their lengths.</summary>
    public void Forward(ReadOnlySpan<float> x, int batch, int height, int width, Span<float> y)
    {
        long inputs = (long)batch * height * width * InChannels, outputs = (long)batch * OutputSize(height) * OutputSize(width) * OutChannels;
        if (batch < 0 || height < 1 || width < 1 || x.Length != inputs || y.Length != outputs)
        {
            throw new ArgumentException($"[{batch}, {height}, {width}, {InChannels}] inputs and [{OutputSize(height)}, {OutputSize(width)}, {OutChannels}] outputs per image need {inputs} and {outputs} values; got {x.Length} and {y.Length}.");
        }
        fixed (float* xp = x, yp = y)
        {
            Forward(xp, batch, height, width, yp);
        }
    }

    /// <summary>
    /// Convolves <paramref name="x"/> [N, H, W, C] into <paramref name="y"/> [N, H', W', O], both NHWC float32,
    /// samples and rows in parallel.
    /// </summary>
    public void Forward(float* x, int batch, int height, int width, float* y)
    {
        if (batch < 0 || height + 2 * Padding < Kernel || width + 2 * Padding < Kernel)
        {
            throw new ArgumentException($"A {Kernel}×{Kernel} convolution with padding {Padding} needs at least one output pixel; got {batch} images of {height}×{width}.");
        }
        if (batch == 0)
        {
            return;
        }
        int ho = OutputSize(height), wo = OutputSize(width), rows = checked(batch * ho);
        long work = (long)rows * wo * _paddedOut * Kernel * Kernel * InChannels;
        fixed (float* weights = _weights, bias = _bias)
        {
            var job = new Job(this, (nint)x, height, width, (nint)y, ho, wo, (nint)weights, (nint)bias);
            int chunks = Math.Min(rows, Environment.ProcessorCount * 4);
            if (work < ParallelThreshold || chunks <= 1 || !EngineParallel.Enabled)
            {
                job.Rows(0, rows);
            }
            else
            {
                EngineParallel.For(chunks, true, c => job.Rows((int)((long)rows * c / chunks), (int)((long)rows * (c + 1) / chunks)));
            }
        }
    }

    /// <summary>One call's pointers (pinned by <c>Forward</c>) and sizes.</summary>
    private readonly record struct Job(FloatConv2d Layer, nint X, int Height, int Width, nint Y, int OutHeight, int OutWidth, nint Weights, nint Bias)
    {
        public void Rows(int first, int end)
        {
            for (int row = first; row < end; row++)
            {
                Layer.Row(this, row / OutHeight, row % OutHeight);
            }
        }
    }

    private void Row(in Job job, int sample, int oy)
    {
        int k = Kernel, c = InChannels;
        float* image = (float*)job.X + (long)sample * job.Height * job.Width * c;
        float* output = (float*)job.Y + ((long)sample * job.OutHeight + oy) * job.OutWidth * OutChannels;
        int iy0 = oy * Stride - Padding, ky0 = Math.Max(0, -iy0), ky1 = Math.Min(k, job.Height - iy0);
        // Channel blocks outermost: one block's weights (C·K·K·32 floats) stay in the L1 cache along the row.
        for (int c0 = 0; c0 < _paddedOut; c0 += ChannelBlock)
        {
            for (int ox = 0; ox < job.OutWidth;)
            {
                int ix0 = ox * Stride - Padding, kx0 = Math.Max(0, -ix0), kx1 = Math.Min(k, job.Width - ix0);
                // A run of neighbouring pixel pairs whose taps all lie inside the image alike: one call serves them
                // (per-call set-up cost more than a small layer's multiply-adds: the sample's 1-channel stem).
                int pairs = 0;
                while (ox + 2 * pairs + 1 < job.OutWidth && SameTaps(ox + 2 * pairs, kx0, kx1, job.Width)
                    && SameTaps(ox + 2 * pairs + 1, kx0, kx1, job.Width))
                {
                    pairs++;
                }
                var taps = new Taps(image + ((long)iy0 * job.Width + ix0) * c, job.Width, ky0, ky1, kx0, kx1, Stride * c);
                Tile(taps, (float*)job.Weights + c0, (float*)job.Bias + c0, output + (long)ox * OutChannels + c0,
                    Math.Min(ChannelBlock, OutChannels - c0), Math.Max(pairs, 1), pairs > 0);
                ox += pairs > 0 ? 2 * pairs : 1;
            }
        }
    }

    /// <summary>Whether output column <paramref name="ox"/> reads kernel columns kx0…kx1−1 inside the image.</summary>
    private bool SameTaps(int ox, int kx0, int kx1, int width)
    {
        int ix = ox * Stride - Padding;
        return Math.Max(0, -ix) == kx0 && Math.Min(Kernel, width - ix) == kx1;
    }

    /// <summary>Where a tile's taps are: the input at kernel tap (0, 0) of its first pixel (possibly in the padding,
    /// never read there), the valid tap rows and columns, and the offset of the second pixel (0 for a single one).</summary>
    private readonly struct Taps(float* origin, int width, int ky0, int ky1, int kx0, int kx1, int next)
    {
        public float* Origin { get; } = origin;
        public int Width { get; } = width;
        public int Ky0 { get; } = ky0;
        public int Ky1 { get; } = ky1;
        public int Kx0 { get; } = kx0;
        public int Kx1 { get; } = kx1;
        public int Next { get; } = next;
    }

    /// <summary>Up to <see cref="ChannelBlock"/> output channels of <paramref name="tiles"/> consecutive pairs of
    /// pixels (or of one pixel when <paramref name="pair"/> is false).</summary>
    // Fully optimized from the first call, as the binary kernels (tier-0 vector code is several times slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private void Tile(in Taps t, float* weights, float* bias, float* output, int channels, int tiles, bool pair)
    {
        float* origin = t.Origin;
        // For the last block of a channel count that is not a multiple of 32: the tile's sums go through the stack.
        float* sums = stackalloc float[2 * ChannelBlock];
        for (int tile = 0; tile < tiles; tile++, origin += 2 * t.Next, output += 2 * OutChannels)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            // Read per tile on purpose: hoisted out of the tile loop, these kept the JIT from holding the inner
            // loop's bounds and strides in registers (three stack reloads per tap).
            int c = InChannels, k = Kernel, next = pair ? t.Next : 0;
            long po = _paddedOut;
            // Along one kernel row the taps (kx, ci) are contiguous in the NHWC input and in the weights.
            int first = t.Kx0 * c, end = t.Kx1 * c;
            for (int ky = t.Ky0; ky < t.Ky1; ky++)
            {
                float* xp = origin + (long)ky * t.Width * c;
                float* wp = weights + (long)ky * k * c * po;
                for (int j = first; j < end; j++)
                {
                    float* wj = wp + j * po;
                    var w0 = Vector256.Load(wj);
                    var w1 = Vector256.Load(wj + Lanes);
                    var w2 = Vector256.Load(wj + 2 * Lanes);
                    var w3 = Vector256.Load(wj + 3 * Lanes);
                    var x0 = Vector256.Create(xp[j]);
                    var x1 = Vector256.Create(xp[next + j]);
                    a0 = Vector256.FusedMultiplyAdd(w0, x0, a0);
                    a1 = Vector256.FusedMultiplyAdd(w1, x0, a1);
                    a2 = Vector256.FusedMultiplyAdd(w2, x0, a2);
                    a3 = Vector256.FusedMultiplyAdd(w3, x0, a3);
                    b0 = Vector256.FusedMultiplyAdd(w0, x1, b0);
                    b1 = Vector256.FusedMultiplyAdd(w1, x1, b1);
                    b2 = Vector256.FusedMultiplyAdd(w2, x1, b2);
                    b3 = Vector256.FusedMultiplyAdd(w3, x1, b3);
                }
            }
            if (channels == ChannelBlock)
            {
                Sum(output, bias, a0, a1, a2, a3);
                if (pair)
                {
                    Sum(output + OutChannels, bias, b0, b1, b2, b3);
                }
                continue;
            }
            Sum(sums, bias, a0, a1, a2, a3);
            Sum(sums + ChannelBlock, bias, b0, b1, b2, b3);
            new ReadOnlySpan<float>(sums, channels).CopyTo(new Span<float>(output, channels));
            if (pair)
            {
                new ReadOnlySpan<float>(sums + ChannelBlock, channels).CopyTo(new Span<float>(output + OutChannels, channels));
            }
        }
    }

    private static void Sum(float* sums, float* bias, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3)
    {
        (v0 + Vector256.Load(bias)).Store(sums);
        (v1 + Vector256.Load(bias + Lanes)).Store(sums + Lanes);
        (v2 + Vector256.Load(bias + 2 * Lanes)).Store(sums + 2 * Lanes);
        (v3 + Vector256.Load(bias + 3 * Lanes)).Store(sums + 3 * Lanes);
    }
}
