using System;
using System.Buffers;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>Writes the step scalars of one sample's (mapped, clamped) activations; <paramref name="scratch"/> is
/// working space as long as <paramref name="values"/>.</summary>
internal delegate void SampleScalars(ReadOnlySpan<float> values, Span<float> scratch, Span<float> scalars);

/// <summary>
/// Quantized activations as ±1 bit-planes plus per-sample step scalars, the input of <see cref="BinaryConv2d"/>.
/// One instance is a reusable buffer: <see cref="Pack"/> grows it only when a larger batch arrives.
/// </summary>
/// <remarks>
/// <para>Layout of <see cref="Bits"/>: [n][plane][h][w][word], <see cref="WordsPerPixel"/> = ceil(C/64) words per
/// pixel; channel c is bit (c mod 64) of word c/64, set when that plane's sign is +1. Bits for c ≥ C are zero.</para>
/// <para>Plane i holds s_i = sign(r_{i−1}) of the foldable rule r_0 = x, r_i = r_{i−1} − v_i·s_i (sign(0) = +1),
/// evaluated in float32 in the order of <c>FoldableReconstruction</c>, so every sign decision is bit-identical to it.</para>
/// </remarks>
internal sealed partial class PackedActivations
{
    /// <summary>Below this many input elements packing stays on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 18;

    private ulong[] _bits = [];
    private ulong[] _folded = [];
    private (int Kernel, int Padding)? _foldedFor;
    private float[] _scalars = [];

    /// <summary>Batch size N of the last <see cref="Pack"/>.</summary>
    public int Batch { get; private set; }

    /// <summary>Input height H.</summary>
    public int Height { get; private set; }

    /// <summary>Input width W.</summary>
    public int Width { get; private set; }

    /// <summary>Input channels C.</summary>
    public int Channels { get; private set; }

    /// <summary>Number of bit-planes kA (step scalars per sample).</summary>
    public int PlaneCount { get; private set; }

    /// <summary>64-bit words per pixel and plane: ceil(C/64).</summary>
    public int WordsPerPixel { get; private set; }

    /// <summary>The sign bits, [n][plane][h][w][word]; may be longer than needed (reused buffer).</summary>
    public ulong[] Bits => _bits;

    /// <summary>The step scalars v[n, i] as [N, kA] row-major; may be longer than needed (reused buffer).</summary>
    public float[] Scalars => _scalars;

    /// <summary>Values of one input sample: H·W·C.</summary>
    private long ElementsPerSample => (long)Height * Width * Channels;

    /// <summary>Words of one sample: kA·H·W·words.</summary>
    public long SampleStride => (long)PlaneCount * Height * Width * WordsPerPixel;

    /// <summary>
    /// Packs float32 NHWC activations (already clamped) with their per-sample step scalars into bit-planes.
    /// </summary>
    /// <param name="nhwc">The activations [N, H, W, C].</param>
    /// <param name="scalars">The step scalars [N, kA] (ls-T: both columns equal to v).</param>
    /// <param name="batch">N.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="channels">C ≥ 1.</param>
    /// <param name="planeCount">kA ≥ 1.</param>
    public void Pack(ReadOnlySpan<float> nhwc, ReadOnlySpan<float> scalars, int batch, int height, int width,
        int channels, int planeCount)
    {
        if (batch < 0 || height < 1 || width < 1 || channels < 1 || planeCount < 1)
        {
            throw new ArgumentException($"Invalid activation shape [{batch}, {height}, {width}, {channels}] with {planeCount} planes.");
        }
        long elements = (long)batch * height * width * channels;
        if (nhwc.Length != elements || scalars.Length != (long)batch * planeCount)
        {
            throw new ArgumentException($"Expected {elements} activations and {(long)batch * planeCount} scalars; got " +
                $"{nhwc.Length} and {scalars.Length}.");
        }
        Resize(batch, height, width, channels, planeCount, scalars.Length);
        scalars.CopyTo(_scalars);
        unsafe
        {
            fixed (float* x = nhwc)
            fixed (ulong* bits = _bits)
            fixed (float* v = _scalars)
            {
                nint xp = (nint)x, bp = (nint)bits, vp = (nint)v;
                EngineParallel.For(batch, elements >= ParallelThreshold,
                    n => PackSample((float*)xp + n * ElementsPerSample, (ulong*)bp + n * SampleStride, (float*)vp + (long)n * planeCount));
            }
        }
    }

    /// <summary>
    /// Packs float32 NHWC activations after a per-channel map (batch norm and clamp): each sample is mapped into a
    /// scratch row, <paramref name="scalars"/> computes its step scalars from that row, and the row is packed. One
    /// pass per sample over memory it owns, samples in parallel.
    /// </summary>
    /// <param name="nhwc">The activations [N, H, W, C] before the map.</param>
    /// <param name="batch">N.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="map">The per-channel map; its channel count is C.</param>
    /// <param name="planeCount">kA ≥ 1.</param>
    /// <param name="scalars">Writes the kA step scalars of one mapped sample.</param>
    /// <param name="foldKernel">When positive, also <see cref="Fold"/>s each sample for this kernel size.</param>
    /// <param name="foldPadding">The padding of that fold.</param>
    public unsafe void PackFused(float* nhwc, int batch, int height, int width, ChannelAffine map, int planeCount,
        SampleScalars scalars, int foldKernel = 0, int foldPadding = 0)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(scalars);
        Resize(batch, height, width, map.Channels, planeCount, (long)batch * planeCount);
        if (foldKernel > 0)
        {
            PrepareFold(foldKernel, foldPadding);
        }
        int elements = checked(height * width * map.Channels);
        fixed (ulong* bits = _bits, folded = _folded)
        fixed (float* v = _scalars)
        {
            nint xp = (nint)nhwc, bp = (nint)bits, vp = (nint)v, fp = (nint)folded;
            void Sample(int n)
            {
                float[] mapped = ArrayPool<float>.Shared.Rent(elements), scratch = ArrayPool<float>.Shared.Rent(elements);
                try
                {
                    fixed (float* y = mapped)
                    {
                        map.Apply((float*)xp + (long)n * elements, y, (long)height * width);
                        var sampleScalars = new Span<float>((float*)vp + (long)n * planeCount, planeCount);
                        scalars(new ReadOnlySpan<float>(y, elements), scratch.AsSpan(0, elements), sampleScalars);
                        PackSample(y, (ulong*)bp + n * SampleStride, (float*)vp + (long)n * planeCount);
                        if (foldKernel > 0)
                        {
                            // While the sample's planes are still in cache.
                            FoldSample((ulong*)bp + n * SampleStride, (ulong*)fp + n * FoldedSampleStride, foldKernel, foldPadding);
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(mapped);
                    ArrayPool<float>.Shared.Return(scratch);
                }
            }
            EngineParallel.For(batch, true, Sample);
        }
        if (foldKernel > 0)
        {
            // The convolution then reads these windows instead of folding the planes a second time.
            _foldedFor = (foldKernel, foldPadding);
        }
    }

    private void Resize(int batch, int height, int width, int channels, int planeCount, long scalarCount)
    {
        _foldedFor = null;
        Batch = batch;
        Height = height;
        Width = width;
        Channels = channels;
        PlaneCount = planeCount;
        WordsPerPixel = (channels + 63) / 64;
        long words = SampleStride * batch;
        if (_bits.Length < words)
        {
            _bits = new ulong[words];
        }
        if (_scalars.Length < scalarCount)
        {
            _scalars = new float[scalarCount];
        }
    }

    /// <summary>Packs every pixel of one sample (<paramref name="x"/> its H·W·C values, <paramref name="v"/> its kA
    /// scalars) into <paramref name="sample"/>; planes of one pixel are written together.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe void PackSample(float* x, ulong* sample, float* v)
    {
        int pixels = Height * Width, c = Channels, words = WordsPerPixel, k = PlaneCount;
        long planeStride = (long)pixels * words;
        Span<float> residual = stackalloc float[64];
        for (int p = 0; p < pixels; p++)
        {
            float* row = x + (long)p * c;
            for (int w = 0; w < words; w++)
            {
                int c0 = w * 64, count = Math.Min(64, c - c0);
                ulong* target = sample + (long)p * words + w;
                if (count % 16 == 0 && Vector512.IsHardwareAccelerated)
                {
                    // 16 channels per register, the word's bits of each plane gathered in a register.
                    switch (count)
                    {
                        case 16:
                            PackWord512<OneVector>(row + c0, count, v, k, target, planeStride);
                            break;
                        case 32:
                            PackWord512<TwoVectors>(row + c0, count, v, k, target, planeStride);
                            break;
                        default:
                            PackWord512<FourVectors>(row + c0, count, v, k, target, planeStride);
                            break;
                    }
                    continue;
                }
                if (count % 8 == 0 && k <= 2 && Vector256.IsHardwareAccelerated)
                {
                    // AVX2: 8 channels per register, the bits of one or two planes gathered in registers (copying
                    // the word's residuals out and packing plane by plane cost an eighth of the AVX2 engine's time).
                    PackWord256(row + c0, count, v, k, target, planeStride);
                    continue;
                }
                new ReadOnlySpan<float>(row + c0, count).CopyTo(residual);
                for (int i = 0; i < k; i++)
                {
                    // The last plane's residual update is never read, but costs nothing worth a branch.
                    target[i * planeStride] = SignBitsAndStep(residual[..count], v[i]);
                }
            }
        }
    }
}
