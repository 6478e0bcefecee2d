using System;
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

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
internal sealed class BinaryConv2d
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

    /// <summary>Everything one range of (n, output row) pairs needs; the pointers are pinned by the caller.</summary>
    private readonly unsafe struct RowJob
    {
        public BinaryConv2d Layer { get; init; }
        public PackedActivations Input { get; init; }
        public BinaryKernelPath Path { get; init; }
        public int OutHeight { get; init; }
        public int OutWidth { get; init; }
        public nint Activations { get; init; }
        public nint WeightBits { get; init; }
        public nint V { get; init; }
        public nint Alpha { get; init; }
        public nint Bias { get; init; }
        public nint Output { get; init; }
        public nint CountsOut { get; init; }
        public ConvEpilogue Epilogue { get; init; }
        public nint Residual { get; init; }
        public FoldedConvWeights? Folded { get; init; }
        public nint[]? Columns { get; init; }

        /// <summary>Rows [<paramref name="first"/>, <paramref name="end"/>) of the flattened (n, y) axis.</summary>
        // Fully optimized from the first call: a scoring service would otherwise run its first ~30 images on
        // unoptimized (tier-0) vector code, several times slower.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void RunRows(int first, int end)
        {
            var w = Layer.Weights;
            int kA = Input.PlaneCount, kW = w.PlaneCount, pad = w.PaddedOutChannels, o = w.OutChannels;
            int k = w.KernelSize, s = Layer.Stride, p = Layer.Padding, h = Input.Height, wid = Input.Width;
            int pairs = kA * kW;
            int[] countBuffer = ArrayPool<int>.Shared.Rent(pairs * pad);
            double[] coefBuffer = ArrayPool<double>.Shared.Rent(pairs * pad);
            try
            {
                fixed (int* scratch = countBuffer)
                fixed (double* coef = coefBuffer)
                {
                    var task = new PixelTask
                    {
                        Weights = (ulong*)WeightBits, Counts = scratch, Height = h, Width = wid, Words = w.WordsPerPixel,
                        PlanesA = kA, PlanesW = kW, OutChannels = o, PaddedOut = pad,
                        PlaneStrideA = (long)h * wid * w.WordsPerPixel, PlaneStrideW = (long)k * k * w.WordsPerPixel * pad,
                        RowStrideW = (long)k * w.WordsPerPixel * pad,
                    };
                    long sampleStride = Input.SampleStride;
                    if (Folded is not null)
                    {
                        // Each window start is one "pixel" of FoldWords words, read as a single kernel column.
                        task.Width = Input.FoldWidth;
                        task.Words = Folded.Words;
                        task.PlaneStrideA = (long)h * Input.FoldWidth * Folded.Words;
                        task.PlaneStrideW = Folded.PlaneStride;
                        task.RowStrideW = Folded.RowStride;
                        sampleStride = Input.FoldedSampleStride;
                    }
                    int sample = -1;
                    for (int row = first; row < end; row++)
                    {
                        int n = row / OutHeight, y = row % OutHeight;
                        if (n != sample)
                        {
                            sample = n;
                            task.Activations = (ulong*)Activations + n * sampleStride;
                            FillCoefficients(coef, n, kA, kW, pad, o);
                        }
                        task.Iy0 = y * s - p;
                        task.Ky0 = Math.Max(0, -task.Iy0);
                        task.Ky1 = Math.Min(k, h - task.Iy0);
                        for (int x = 0; x < OutWidth; x++)
                        {
                            task.Ix0 = x * s - p;
                            task.Kx0 = Math.Max(0, -task.Ix0);
                            task.Kx1 = Math.Min(k, wid - task.Ix0);
                            long pixel = (long)row * OutWidth + x;
                            bool empty = task.Ky1 <= task.Ky0 || task.Kx1 <= task.Kx0;
                            task.Full = Input.Channels * (task.Ky1 - task.Ky0) * (task.Kx1 - task.Kx0);
                            if (Folded is not null)
                            {
                                // The window starting at column x·S, paired with the weights of its border case.
                                task.Weights = (ulong*)Columns![x];
                                task.Ix0 = x * s;
                                task.Kx0 = 0;
                                task.Kx1 = 1;
                            }
                            if (empty)
                            {
                                // Only padding under the window (P ≥ K at a corner): every B is 0.
                                new Span<int>(scratch, pairs * pad).Clear();
                            }
                            else
                            {
                                PopCountKernels.Run(Path, task);
                            }
                            if (Output != 0)
                            {
                                Combine(scratch, coef, (double*)Bias, (float*)Output + pixel * o, pairs, pad, o);
                                Epilogue.Apply((float*)Output + pixel * o, Residual == 0 ? null : (float*)Residual + pixel * o, o);
                            }
                            else
                            {
                                int* dst = (int*)CountsOut + pixel * pairs * o;
                                for (int pair = 0; pair < pairs; pair++)
                                {
                                    new Span<int>(scratch + pair * pad, o).CopyTo(new Span<int>(dst + pair * o, o));
                                }
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(countBuffer);
                ArrayPool<double>.Shared.Return(coefBuffer);
            }
        }

        /// <summary>coef[(i·kW + j)·pad + o] = v[n, i]·α[o, j] in double (exact: a product of two floats).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        private void FillCoefficients(double* coef, int n, int kA, int kW, int pad, int outChannels)
        {
            float* v = (float*)V + (long)n * kA, alpha = (float*)Alpha;
            for (int i = 0; i < kA; i++)
            {
                for (int j = 0; j < kW; j++)
                {
                    double* row = coef + (i * kW + j) * pad;
                    for (int c = 0; c < pad; c++)
                    {
                        row[c] = c < outChannels ? (double)v[i] * alpha[c * kW + j] : 0;
                    }
                }
            }
        }

        /// <summary>out[o] = (float)(bias[o] + Σ_pair coef·B), vectorized where AVX is present (same operations and
        /// order as the scalar tail, no fused multiply-add, so the bits do not depend on the branch taken).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        private static void Combine(int* counts, double* coef, double* bias, float* output, int pairs, int pad, int outChannels)
        {
            int c = 0;
            // Each lane multiplies and adds separately in double (no fused multiply-add), so every width gives the
            // same bits.
            if (Avx512F.IsSupported)
            {
                for (; c + 8 <= outChannels; c += 8)
                {
                    var sum = Vector512.Load(bias + c);
                    for (int pair = 0; pair < pairs; pair++)
                    {
                        var b = Avx512F.ConvertToVector512Double(Vector256.Load(counts + pair * pad + c));
                        sum = Avx512F.Add(sum, Avx512F.Multiply(Vector512.Load(coef + pair * pad + c), b));
                    }
                    Avx512F.ConvertToVector256Single(sum).Store(output + c);
                }
            }
            if (Avx.IsSupported)
            {
                for (; c + 4 <= outChannels; c += 4)
                {
                    var sum = Vector256.Load(bias + c);
                    for (int pair = 0; pair < pairs; pair++)
                    {
                        var b = Avx.ConvertToVector256Double(Vector128.Load(counts + pair * pad + c));
                        sum = Avx.Add(sum, Avx.Multiply(Vector256.Load(coef + pair * pad + c), b));
                    }
                    Avx.ConvertToVector128Single(sum).Store(output + c);
                }
            }
            for (; c < outChannels; c++)
            {
                double sum = bias[c];
                for (int pair = 0; pair < pairs; pair++)
                {
                    sum += coef[pair * pad + c] * counts[pair * pad + c];
                }
                output[c] = (float)sum;
            }
        }
    }
}
