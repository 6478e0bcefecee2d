using System;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// The storage form of a binary-quantized convolution weight [O, C, K, K]: <see cref="PlaneCount"/> ±1 sign planes
/// and per-output-channel step scalars, from which the quantized float weights are
/// W_q[o, e] = Σ_j α[o, j]·s_j[o, e] (e the flattened PyTorch index (c·K + ky)·K + kx).
/// </summary>
/// <remarks>
/// <para><see cref="Signs"/> layout: plane-major, then output channel, then e; each (plane, o) row takes
/// <see cref="RowBytes"/> = ceil(C·K·K / 8) bytes and starts on a byte boundary. Element e of row (j, o) is bit
/// (e mod 8) (LSB first) of byte <c>(j·O + o)·RowBytes + e/8</c>; the bit is 1 where the sign is +1.
/// Padding bits at the end of a row are 0.</para>
/// <para><see cref="Scalars"/> layout: [O, kW] row-major, α[o, j] at <c>o·kW + j</c> (ls-T: both columns equal v).</para>
/// </remarks>
internal sealed class PackedConvWeights
{
    /// <summary>Wraps existing planes and scalars (e.g. read from a model file); the arrays are not copied.</summary>
    /// <param name="outChannels">O ≥ 1.</param>
    /// <param name="inChannels">C ≥ 1.</param>
    /// <param name="kernelSize">K ≥ 1 (square kernel).</param>
    /// <param name="planeCount">kW ≥ 1.</param>
    /// <param name="scalars">α as [O, kW].</param>
    /// <param name="signs">The sign bits in the layout of the remarks.</param>
    public PackedConvWeights(int outChannels, int inChannels, int kernelSize, int planeCount, float[] scalars, byte[] signs)
    {
        ArgumentNullException.ThrowIfNull(scalars);
        ArgumentNullException.ThrowIfNull(signs);
        if (outChannels < 1 || inChannels < 1 || kernelSize < 1 || planeCount < 1)
        {
            throw new ArgumentException($"Invalid weight shape [{outChannels}, {inChannels}, {kernelSize}, {kernelSize}] " +
                $"with {planeCount} planes.");
        }
        OutChannels = outChannels;
        InChannels = inChannels;
        KernelSize = kernelSize;
        PlaneCount = planeCount;
        if (scalars.Length != (long)outChannels * planeCount || signs.Length != (long)planeCount * outChannels * RowBytes)
        {
            throw new ArgumentException($"Expected {(long)outChannels * planeCount} scalars and " +
                $"{(long)planeCount * outChannels * RowBytes} sign bytes; got {scalars.Length} and {signs.Length}.");
        }
        Scalars = scalars;
        Signs = signs;
    }

    /// <summary>Output channels O.</summary>
    public int OutChannels { get; }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }

    /// <summary>Kernel size K (square).</summary>
    public int KernelSize { get; }

    /// <summary>Number of sign planes kW.</summary>
    public int PlaneCount { get; }

    /// <summary>Step scalars α[o, j] as [O, kW] row-major.</summary>
    public float[] Scalars { get; }

    /// <summary>Sign bits, layout in the type's remarks.</summary>
    public byte[] Signs { get; }

    /// <summary>Elements per output row: C·K·K.</summary>
    public int RowLength => InChannels * KernelSize * KernelSize;

    /// <summary>Bytes per (plane, output channel) row: ceil(C·K·K / 8).</summary>
    public int RowBytes => RowBytesFor(InChannels, KernelSize);

    /// <summary>Bytes of one (plane, output channel) row for C input channels and a K×K kernel: ceil(C·K·K / 8).</summary>
    public static int RowBytesFor(long inChannels, long kernelSize) => checked((int)((inChannels * kernelSize * kernelSize + 7) / 8));

    /// <summary>Whether the sign of element <paramref name="e"/> of output row <paramref name="o"/> in plane
    /// <paramref name="plane"/> is +1.</summary>
    public bool IsPositive(int plane, int o, int e) =>
        (Signs[((long)plane * OutChannels + o) * RowBytes + (e >> 3)] >> (e & 7) & 1) != 0;

    /// <summary>
    /// Quantizes latent float weights with given step scalars by the foldable rule r_0 = w, s_j = sign(r_{j−1})
    /// (sign(0) = +1), r_j = r_{j−1} − α_j·s_j, in float32 as <c>FoldableReconstruction</c> does.
    /// </summary>
    /// <param name="weights">Latent weights [O, C, K, K] in PyTorch order.</param>
    /// <param name="scalars">α as [O, kW] (from <c>LeastSquaresQuantizer.ComputeScalars</c>; ls-T expanded to two columns).</param>
    /// <param name="outChannels">O.</param>
    /// <param name="inChannels">C.</param>
    /// <param name="kernelSize">K.</param>
    /// <param name="planeCount">kW.</param>
    public static PackedConvWeights FromLatent(ReadOnlySpan<float> weights, ReadOnlySpan<float> scalars, int outChannels,
        int inChannels, int kernelSize, int planeCount)
    {
        int rowLength = inChannels * kernelSize * kernelSize;
        if (weights.Length != (long)outChannels * rowLength)
        {
            throw new ArgumentException($"Expected {(long)outChannels * rowLength} weights; got {weights.Length}.", nameof(weights));
        }
        int rowBytes = RowBytesFor(inChannels, kernelSize);
        var signs = new byte[(long)planeCount * outChannels * rowBytes];
        var alpha = scalars.ToArray();
        Span<float> residual = stackalloc float[64];
        for (int o = 0; o < outChannels; o++)
        {
            var row = weights.Slice(o * rowLength, rowLength);
            var v = scalars.Slice(o * planeCount, planeCount);
            for (int e0 = 0; e0 < rowLength; e0 += 64)
            {
                int count = Math.Min(64, rowLength - e0);
                row.Slice(e0, count).CopyTo(residual);
                for (int j = 0; j < planeCount; j++)
                {
                    ulong bits = PackedActivations.SignBitsAndStep(residual[..count], v[j]);
                    long at = ((long)j * outChannels + o) * rowBytes + e0 / 8;
                    for (int b = 0; b < (count + 7) / 8; b++)
                    {
                        signs[at + b] = (byte)(bits >> (8 * b));
                    }
                }
            }
        }
        return new PackedConvWeights(outChannels, inChannels, kernelSize, planeCount, alpha, signs);
    }

    /// <summary>
    /// The quantized float32 weights [O, C, K, K]: with one plane α·s; otherwise 0 + step_1 + … + step_kW with
    /// step_j = s_j·α_j, the float32 sequence of <c>FoldableReconstruction</c>, hence bit-identical to it.
    /// </summary>
    public float[] Reconstruct()
    {
        int rowLength = RowLength, k = PlaneCount;
        var result = new float[(long)OutChannels * rowLength];
        for (int o = 0; o < OutChannels; o++)
        {
            for (int e = 0; e < rowLength; e++)
            {
                float acc = 0;
                for (int j = 0; j < k; j++)
                {
                    float step = (IsPositive(j, o, e) ? 1f : -1f) * Scalars[o * k + j];
                    // One plane stores the step itself: 0 + (−0) would turn a −0 weight into +0.
                    acc = k == 1 ? step : acc + step;
                }
                result[(long)o * rowLength + e] = acc;
            }
        }
        return result;
    }

    /// <summary>Plane <paramref name="plane"/> as ±1 floats [O, C, K, K] in PyTorch order.</summary>
    public float[] SignPlane(int plane)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(plane);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(plane, PlaneCount);
        int rowLength = RowLength;
        var result = new float[(long)OutChannels * rowLength];
        for (int o = 0; o < OutChannels; o++)
        {
            for (int e = 0; e < rowLength; e++)
            {
                result[(long)o * rowLength + e] = IsPositive(plane, o, e) ? 1f : -1f;
            }
        }
        return result;
    }

    /// <summary>The layout <see cref="BinaryConv2d"/> reads; see <see cref="KernelConvWeights"/>.</summary>
    public KernelConvWeights ToKernelLayout()
    {
        int k = KernelSize, c = InChannels, words = (c + 63) / 64;
        int padded = KernelConvWeights.PadChannels(OutChannels);
        var bits = new ulong[(long)PlaneCount * k * k * words * padded];
        for (int j = 0; j < PlaneCount; j++)
        {
            for (int o = 0; o < OutChannels; o++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int ky = 0; ky < k; ky++)
                    {
                        for (int kx = 0; kx < k; kx++)
                        {
                            if (IsPositive(j, o, (ch * k + ky) * k + kx))
                            {
                                long word = ((((long)j * k + ky) * k + kx) * words + ch / 64) * padded + o;
                                bits[word] |= 1UL << (ch & 63);
                            }
                        }
                    }
                }
            }
        }
        return new KernelConvWeights(OutChannels, c, k, PlaneCount, (float[])Scalars.Clone(), bits);
    }
}
