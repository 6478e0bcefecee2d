using System;
using System.Runtime.Intrinsics;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>The folded windows of narrow layers (<see cref="FoldedConvWeights"/>), built from the packed planes.</summary>
internal sealed partial class PackedActivations
{
    /// <summary>The windows of the last <see cref="Fold"/>, [n][plane][h][start][word]; may be longer than needed.</summary>
    public ulong[] FoldedBits => _folded;

    /// <summary>Window start columns of the last <see cref="Fold"/>: W + 2P − K + 1 (start t covers columns t − P …
    /// t − P + K − 1).</summary>
    public int FoldWidth { get; private set; }

    /// <summary>Words per folded window of the last <see cref="Fold"/>: ceil(K·C/64).</summary>
    public int FoldWords { get; private set; }

    /// <summary>Words of one sample in <see cref="FoldedBits"/>.</summary>
    public long FoldedSampleStride => (long)PlaneCount * Height * FoldWidth * FoldWords;

    /// <summary>Whether <see cref="FoldedBits"/> holds the windows of <paramref name="kernel"/> and
    /// <paramref name="padding"/> for the planes packed last.</summary>
    public bool IsFoldedFor(int kernel, int padding) => _foldedFor == (kernel, padding);

    /// <summary>
    /// Folds the packed planes (C ≤ 64, one word per pixel) into windows of <paramref name="kernel"/> consecutive
    /// pixels of a row, pixel kx's channel c at window bit kx·C + c, columns outside the image as zero bits
    /// (<see cref="FoldedConvWeights"/>).
    /// </summary>
    public unsafe void Fold(int kernel, int padding)
    {
        PrepareFold(kernel, padding);
        fixed (ulong* bits = _bits, folded = _folded)
        {
            nint bp = (nint)bits, fp = (nint)folded;
            void Sample(int n) => FoldSample((ulong*)bp + n * SampleStride, (ulong*)fp + n * FoldedSampleStride, kernel, padding);
            EngineParallel.For(Batch, (long)Batch * SampleStride >= ParallelThreshold / 8, Sample);
        }
        _foldedFor = (kernel, padding);
    }

    private void PrepareFold(int kernel, int padding)
    {
        if (WordsPerPixel != 1 || kernel < 1 || padding < 0 || Width + 2 * padding < kernel)
        {
            throw new ArgumentException($"Cannot fold {Channels} channels of width {Width} into {kernel}-pixel windows with padding {padding}.");
        }
        FoldWidth = Width + 2 * padding - kernel + 1;
        FoldWords = FoldedConvWeights.WordsPerRow(Channels, kernel);
        long words = FoldedSampleStride * Batch;
        if (_folded.Length < words)
        {
            _folded = new ulong[words];
        }
    }

    // Tap by tap over all windows of a row: a constant shift per tap, and where a window is one word (C·K ≤ 64, the
    // common narrow case) the windows are consecutive words, eight to a 512-bit vector or four to a 256-bit one.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private unsafe void FoldSample(ulong* sample, ulong* folded, int kernel, int padding)
    {
        int c = Channels, words = FoldWords, fw = FoldWidth, width = Width;
        new Span<ulong>(folded, checked((int)FoldedSampleStride)).Clear();
        for (int row = 0; row < PlaneCount * Height; row++)
        {
            ulong* pixels = sample + (long)row * width;
            ulong* target = folded + (long)row * fw * words;
            for (int kx = 0; kx < kernel; kx++)
            {
                int bit = kx * c, shift = bit & 63;
                ulong* word = target + bit / 64;
                // Window start t reads pixel t − P + kx; only in-bounds pixels are written.
                int t = Math.Max(0, padding - kx), t1 = Math.Min(fw, width + padding - kx);
                ulong* pixel = pixels - padding + kx;
                if (words == 1)
                {
                    if (Vector512.IsHardwareAccelerated)
                    {
                        for (; t + 8 <= t1; t += 8)
                        {
                            (Vector512.Load(word + t) | Vector512.ShiftLeft(Vector512.Load(pixel + t), shift)).Store(word + t);
                        }
                    }
                    if (Vector256.IsHardwareAccelerated)
                    {
                        // AVX2 machines, and the rest of a row after the 512-bit loop.
                        for (; t + 4 <= t1; t += 4)
                        {
                            (Vector256.Load(word + t) | Vector256.ShiftLeft(Vector256.Load(pixel + t), shift)).Store(word + t);
                        }
                    }
                    for (; t < t1; t++)
                    {
                        word[t] |= pixel[t] << shift;
                    }
                }
                else if (shift + c > 64)
                {
                    for (; t < t1; t++)
                    {
                        word[(long)t * words] |= pixel[t] << shift;
                        word[(long)t * words + 1] |= pixel[t] >> (64 - shift);
                    }
                }
                else
                {
                    for (; t < t1; t++)
                    {
                        word[(long)t * words] |= pixel[t] << shift;
                    }
                }
            }
        }
    }
}
