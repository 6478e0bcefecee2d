using System;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// A binary-quantized 2-D convolution (square kernel, no groups, no dilation, zero padding) on bit-planes:
/// out[n,y,x,o] = bias[o] + Σ_i Σ_j v[n,i]·α[o,j]·B_ij(n,o,y,x), B_ij the ±1 correlation of activation plane i
/// and weight plane j over the in-bounds kernel positions (padded positions contribute 0).
/// </summary>
/// <remarks>
/// The integers B_ij are exact; they are combined in double (coefficient v·α formed in double, then
/// bias + Σ coefficient·B added in the order i outer, j inner, without fused multiply-add) and rounded once to
/// float32, so every kernel path gives bit-identical outputs and the error is one float32 rounding.
/// </remarks>
internal sealed partial class BinaryConv2d
{
    /// <summary>Below this many 64-bit XOR-popcounts per call the work stays on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 17;

    private readonly double[] _bias;

    /// <summary>Creates the layer.</summary>
    /// <param name="weights">Kernel-layout weights.</param>
    /// <param name="bias">Bias [O], or null for none.</param>
    /// <param name="stride">Stride S ≥ 1.</param>
    /// <param name="padding">Zero padding P ≥ 0 on every side.</param>
    /// <param name="foldWindows">Whether a narrow layer reads its kernel rows folded into fewer words
    /// (<see cref="FoldedConvWeights"/>; same integers, tests compare both).</param>
    public BinaryConv2d(KernelConvWeights weights, float[]? bias, int stride, int padding, bool foldWindows = true)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (stride < 1 || padding < 0)
        {
            throw new ArgumentException($"Invalid stride {stride} or padding {padding}.");
        }
        if (bias is not null && bias.Length != weights.OutChannels)
        {
            throw new ArgumentException($"Bias has {bias.Length} entries for {weights.OutChannels} channels.", nameof(bias));
        }
        Weights = weights;
        Stride = stride;
        Padding = padding;
        Folded = foldWindows ? FoldedConvWeights.TryCreate(weights, stride, padding) : null;
        // Padded to the vector width so the combination needs no tail; entries past O are 0 and never written out.
        _bias = new double[weights.PaddedOutChannels];
        for (int o = 0; bias is not null && o < bias.Length; o++)
        {
            _bias[o] = bias[o];
        }
    }

    /// <summary>The weights.</summary>
    public KernelConvWeights Weights { get; }

    /// <summary>The folded weights the kernels read instead of <see cref="Weights"/>, or null when not folded.</summary>
    public FoldedConvWeights? Folded { get; }

    /// <summary>Stride S.</summary>
    public int Stride { get; }

    /// <summary>Zero padding P.</summary>
    public int Padding { get; }

    /// <summary>Output size (H + 2P − K)/S + 1 for input size <paramref name="inputSize"/>.</summary>
    public int OutputSize(int inputSize) => (inputSize + 2 * Padding - Weights.KernelSize) / Stride + 1;

    /// <summary>Computes the float32 output NHWC [N, Ho, Wo, O] into <paramref name="output"/>.</summary>
    /// <param name="input">Packed activations with C = <see cref="KernelConvWeights.InChannels"/>.</param>
    /// <param name="output">Exactly N·Ho·Wo·O floats.</param>
    /// <param name="path">The kernel; null for <see cref="BinaryKernels.Best"/>.</param>
    public unsafe void Forward(PackedActivations input, Span<float> output, BinaryKernelPath? path = null)
    {
        CheckShapes(input, output.Length, 1);
        fixed (float* o = output)
        {
            Run(input, o, null, path ?? BinaryKernels.Best, ConvEpilogue.None, null);
        }
    }

    /// <summary>
    /// Computes the output NHWC [N, Ho, Wo, O] into <paramref name="output"/> and applies <paramref name="epilogue"/>
    /// to each output pixel, with <paramref name="residual"/> (NHWC, the output's shape) as its residual when given.
    /// </summary>
    /// <param name="input">Packed activations with C = <see cref="KernelConvWeights.InChannels"/>.</param>
    /// <param name="output">N·Ho·Wo·O floats.</param>
    /// <param name="outputLength">The length of <paramref name="output"/> (checked against the shapes).</param>
    /// <param name="epilogue">Nonlinearity and residual addition.</param>
    /// <param name="residual">N·Ho·Wo·O floats, or null.</param>
    public unsafe void Forward(PackedActivations input, float* output, long outputLength, ConvEpilogue epilogue, float* residual)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        CheckShapes(input, outputLength, 1);
        epilogue.Check(Weights.OutChannels);
        Run(input, output, null, BinaryKernels.Best, epilogue, residual);
    }

    /// <summary>The integers B_ij as [N, Ho, Wo, kA, kW, O] (for comparing kernel paths).</summary>
    public unsafe void ComputeCounts(PackedActivations input, Span<int> counts, BinaryKernelPath? path = null)
    {
        CheckShapes(input, counts.Length, input.PlaneCount * Weights.PlaneCount);
        fixed (int* c = counts)
        {
            Run(input, null, c, path ?? BinaryKernels.Best, ConvEpilogue.None, null);
        }
    }

    private void CheckShapes(PackedActivations input, long length, int perChannel)
    {
        ArgumentNullException.ThrowIfNull(input);
        int ho = OutputSize(input.Height), wo = OutputSize(input.Width);
        if (input.Channels != Weights.InChannels || input.Height + 2 * Padding < Weights.KernelSize
            || input.Width + 2 * Padding < Weights.KernelSize)
        {
            throw new ArgumentException($"Input [{input.Batch}, {input.Height}, {input.Width}, {input.Channels}] does not fit " +
                $"a {Weights.KernelSize}×{Weights.KernelSize} kernel over {Weights.InChannels} channels with padding {Padding}.");
        }
        long expected = (long)input.Batch * ho * wo * perChannel * Weights.OutChannels;
        if (length != expected)
        {
            throw new ArgumentException($"The output holds {length} values; expected {expected}.");
        }
    }

    private unsafe void Run(PackedActivations input, float* output, int* counts, BinaryKernelPath path, ConvEpilogue epilogue, float* residual)
    {
        BinaryKernels.EnsureSupported(path);
        var w = Weights;
        int ho = OutputSize(input.Height), wo = OutputSize(input.Width);
        int rows = input.Batch * ho;
        var folded = Folded;
        nint[]? columns = null;
        if (folded is not null)
        {
            if (!input.IsFoldedFor(w.KernelSize, Padding))
            {
                input.Fold(w.KernelSize, Padding);
            }
            columns = folded.ColumnWeights(input.Width);
        }
        long work = (long)rows * wo * w.PaddedOutChannels * w.KernelSize
            * (folded?.Words ?? w.KernelSize * w.WordsPerPixel) * input.PlaneCount * w.PlaneCount;
        fixed (ulong* act = folded is null ? input.Bits : input.FoldedBits, bits = w.Bits)
        fixed (float* v = input.Scalars, alpha = w.Scalars)
        fixed (double* bias = _bias)
        {
            var job = new RowJob
            {
                Layer = this, Input = input, Path = path, OutWidth = wo, OutHeight = ho,
                Activations = (nint)act, WeightBits = (nint)bits, V = (nint)v, Alpha = (nint)alpha, Bias = (nint)bias,
                Output = (nint)output, CountsOut = (nint)counts, Epilogue = epilogue, Residual = (nint)residual,
                Folded = folded, Columns = columns,
            };
            int chunks = Math.Min(rows, Environment.ProcessorCount * 4);
            if (work < ParallelThreshold || chunks <= 1 || !EngineParallel.Enabled)
            {
                job.RunRows(0, rows);
            }
            else
            {
                EngineParallel.For(chunks, true, c => job.RunRows((int)((long)rows * c / chunks), (int)((long)rows * (c + 1) / chunks)));
            }
        }
    }
}
