using System;
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>The per-thread work of <see cref="BinaryConv2d"/>: kernels per output pixel, then the combination.</summary>
internal sealed partial class BinaryConv2d
{
    /// <summary>Everything one range of (n, output row) pairs needs; the pointers are pinned by the caller.</summary>
    private readonly unsafe struct RowJob
    {
        /// <summary>At most this many ints of counts per kernel call (32 KiB, within L1 with the weights' lines).</summary>
        private const int CountsPerChunk = 8192;

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
            int pairs = kA * kW, stride = pairs * pad;
            // Pixels per kernel call: a whole run of a narrow layer, fewer where the counts would leave L1.
            int chunk = Math.Clamp(CountsPerChunk / stride, 1, OutWidth);
            int[] countBuffer = ArrayPool<int>.Shared.Rent(chunk * stride);
            double[] coefBuffer = ArrayPool<double>.Shared.Rent(stride);
            try
            {
                fixed (int* scratch = countBuffer)
                fixed (double* coef = coefBuffer)
                {
                    var task = new PixelTask
                    {
                        Weights = (ulong*)WeightBits, Counts = scratch, Height = h, Width = wid, Words = w.WordsPerPixel,
                        PlanesA = kA, PlanesW = kW, OutChannels = o, PaddedOut = pad, CountsStride = stride,
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
                    task.PixelStep = s * task.Words;
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
                        int x = 0;
                        while (x < OutWidth)
                        {
                            // A run: consecutive pixels with the same in-bounds columns (the interior, or one border
                            // case), so one kernel call serves them all.
                            int kx0 = KxBegin(x), kx1 = KxEnd(x, wid), run = 1;
                            while (run < chunk && x + run < OutWidth && KxBegin(x + run) == kx0 && KxEnd(x + run, wid) == kx1
                                && (Folded is null || Columns![x + run] == Columns[x]))
                            {
                                run++;
                            }
                            task.Pixels = run;
                            task.Ix0 = x * s - p;
                            task.Kx0 = kx0;
                            task.Kx1 = kx1;
                            task.Full = Input.Channels * (task.Ky1 - task.Ky0) * (kx1 - kx0);
                            if (Folded is not null)
                            {
                                // The windows starting at columns x·S…, paired with the weights of their border case.
                                task.Weights = (ulong*)Columns![x];
                                task.Ix0 = x * s;
                                task.Kx0 = 0;
                                task.Kx1 = 1;
                            }
                            if (task.Ky1 <= task.Ky0 || kx1 <= kx0)
                            {
                                // Only padding under the windows (P ≥ K at a corner): every B is 0.
                                new Span<int>(scratch, run * stride).Clear();
                            }
                            else
                            {
                                PopCountKernels.Run(Path, task);
                            }
                            long pixel = (long)row * OutWidth + x;
                            if (Output != 0)
                            {
                                // The run's output pixels are consecutive: one combination and one epilogue call.
                                Combine(scratch, stride, coef, (double*)Bias, (float*)Output + pixel * o, run, pairs, pad, o);
                                Epilogue.Apply((float*)Output + pixel * o, Residual == 0 ? null : (float*)Residual + pixel * o, o, run);
                            }
                            else
                            {
                                for (int q = 0; q < run; q++)
                                {
                                    int* dst = (int*)CountsOut + (pixel + q) * pairs * o;
                                    for (int pair = 0; pair < pairs; pair++)
                                    {
                                        new Span<int>(scratch + q * stride + pair * pad, o).CopyTo(new Span<int>(dst + pair * o, o));
                                    }
                                }
                            }
                            x += run;
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

        /// <summary>The first in-bounds kernel column of output column <paramref name="x"/>.</summary>
        private int KxBegin(int x) => Math.Max(0, Layer.Padding - x * Layer.Stride);

        /// <summary>One past the last in-bounds kernel column of output column <paramref name="x"/>.</summary>
        private int KxEnd(int x, int width) =>
            Math.Min(Layer.Weights.KernelSize, width - (x * Layer.Stride - Layer.Padding));

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

        /// <summary>out[p·O + o] = (float)(bias[o] + Σ_pair coef·B) for each pixel p of a run, vectorized where AVX is
        /// present (same operations and order as the scalar tail, no fused multiply-add, so the bits do not depend on
        /// the branch taken).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        private static void Combine(int* counts, int countsStride, double* coef, double* bias, float* output, int pixels,
            int pairs, int pad, int outChannels)
        {
            if (pairs == 2 && outChannels % 8 == 0 && Avx512F.IsSupported)
            {
                // ls-2 activations and ls-1 weights (the default student): the two pairs written out, with no loop
                // or index arithmetic per pair; the same operations in the same order as the general loop.
                for (int p = 0; p < pixels; p++, counts += countsStride, output += outChannels)
                {
                    double* coef1 = coef + pad;
                    int* counts1 = counts + pad;
                    for (int c = 0; c < outChannels; c += 8)
                    {
                        var sum = Vector512.Load(bias + c);
                        sum = Avx512F.Add(sum, Avx512F.Multiply(Vector512.Load(coef + c),
                            Avx512F.ConvertToVector512Double(Vector256.Load(counts + c))));
                        sum = Avx512F.Add(sum, Avx512F.Multiply(Vector512.Load(coef1 + c),
                            Avx512F.ConvertToVector512Double(Vector256.Load(counts1 + c))));
                        Avx512F.ConvertToVector256Single(sum).Store(output + c);
                    }
                }
                return;
            }
            if (pairs == 2 && outChannels % 4 == 0 && !Avx512F.IsSupported && Avx.IsSupported)
            {
                // The same on AVX2 machines, four channels per vector as the general loop there.
                for (int p = 0; p < pixels; p++, counts += countsStride, output += outChannels)
                {
                    double* coef1 = coef + pad;
                    int* counts1 = counts + pad;
                    for (int c = 0; c < outChannels; c += 4)
                    {
                        var sum = Vector256.Load(bias + c);
                        sum = Avx.Add(sum, Avx.Multiply(Vector256.Load(coef + c), Avx.ConvertToVector256Double(Vector128.Load(counts + c))));
                        sum = Avx.Add(sum, Avx.Multiply(Vector256.Load(coef1 + c), Avx.ConvertToVector256Double(Vector128.Load(counts1 + c))));
                        Avx.ConvertToVector128Single(sum).Store(output + c);
                    }
                }
                return;
            }
            for (int p = 0; p < pixels; p++, counts += countsStride, output += outChannels)
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
}
