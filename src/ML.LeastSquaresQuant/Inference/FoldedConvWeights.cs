using System;
using System.Threading;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// The weights of a narrow binary convolution with each kernel row's taps folded into as few 64-bit words as they
/// fill, so a 16-channel 3×3 layer reads one word per kernel row instead of three quarter-empty ones.
/// </summary>
/// <remarks>
/// <para>Window bit kx·C + c of kernel row ky (bit b of word b/64) holds channel c of tap (ky, kx); the activations
/// are folded the same way (<see cref="PackedActivations.Fold"/>), one window per start column. A window that
/// overhangs the image's left or right edge reads zero activation bits there, and the weights it is paired with
/// have those taps cleared too, so padded taps add 0 to popcount(a XOR b): one copy of the weights per border
/// case (first and last in-bounds tap), built on first use. Rows above and below the image are skipped as in the
/// unfolded layout.</para>
/// <para>Layout of each copy: [plane j][ky][word][o'], o' &lt; <see cref="KernelConvWeights.PaddedOutChannels"/>.
/// Copies live on the pinned heap so the kernels can hold their addresses.</para>
/// </remarks>
internal sealed class FoldedConvWeights
{
    private readonly KernelConvWeights _source;
    private readonly int _stride, _padding;

    // Index kx0·(K + 1) + kx1: the copy for windows whose in-bounds taps are [kx0, kx1).
    private readonly ulong[]?[] _cases;
    private Columns? _columns;

    private FoldedConvWeights(KernelConvWeights source, int stride, int padding)
    {
        _source = source;
        _stride = stride;
        _padding = padding;
        Words = WordsPerRow(source.InChannels, source.KernelSize);
        _cases = new ulong[]?[(source.KernelSize + 1) * (source.KernelSize + 1)];
    }

    /// <summary>64-bit words per folded kernel row: ceil(K·C/64).</summary>
    public int Words { get; }

    /// <summary>Words between weight planes: K·<see cref="Words"/>·O'.</summary>
    public long PlaneStride => (long)_source.KernelSize * Words * _source.PaddedOutChannels;

    /// <summary>Words between kernel rows: <see cref="Words"/>·O'.</summary>
    public long RowStride => (long)Words * _source.PaddedOutChannels;

    /// <summary>ceil(K·C/64): the words one folded kernel row fills.</summary>
    public static int WordsPerRow(int channels, int kernel) => (int)(((long)kernel * channels + 63) / 64);

    /// <summary>The folded form of <paramref name="weights"/>, or null where folding would not read fewer words
    /// (1×1 kernels, more than 64 channels, or a row of taps that needs as many words folded as unfolded).</summary>
    public static FoldedConvWeights? TryCreate(KernelConvWeights weights, int stride, int padding)
    {
        ArgumentNullException.ThrowIfNull(weights);
        int k = weights.KernelSize;
        bool fewerWords = weights.WordsPerPixel == 1 && k > 1 && WordsPerRow(weights.InChannels, k) < k;
        return fewerWords ? new FoldedConvWeights(weights, stride, padding) : null;
    }

    /// <summary>For each output column x of an input <paramref name="inputWidth"/> wide, the address of the copy its
    /// window needs (cached for the last width asked).</summary>
    public nint[] ColumnWeights(int inputWidth)
    {
        var cached = _columns;
        if (cached is not null && cached.InputWidth == inputWidth)
        {
            return cached.Addresses;
        }
        int k = _source.KernelSize, outWidth = (inputWidth + 2 * _padding - k) / _stride + 1;
        var addresses = new nint[outWidth];
        for (int x = 0; x < outWidth; x++)
        {
            int ix0 = x * _stride - _padding;
            int kx0 = Math.Max(0, -ix0), kx1 = Math.Max(kx0, Math.Min(k, inputWidth - ix0));
            addresses[x] = Address(kx0, kx1);
        }
        // Another thread may replace it with an equal table: both are correct.
        _columns = new Columns(inputWidth, addresses);
        return addresses;
    }

    private unsafe nint Address(int kx0, int kx1)
    {
        ref var slot = ref _cases[kx0 * (_source.KernelSize + 1) + kx1];
        var copy = Volatile.Read(ref slot);
        if (copy is null)
        {
            // Two threads may build the same copy; the first one stored is kept, so every address stays valid.
            Interlocked.CompareExchange(ref slot, Build(kx0, kx1), null);
            copy = slot!;
        }
        return (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(
            ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(copy));
    }

    /// <summary>The copy holding taps kx ∈ [<paramref name="kx0"/>, <paramref name="kx1"/>) of every row.</summary>
    private ulong[] Build(int kx0, int kx1)
    {
        var s = _source;
        int k = s.KernelSize, c = s.InChannels, pad = s.PaddedOutChannels, words = Words;
        var bits = GC.AllocateArray<ulong>(checked((int)(s.PlaneCount * PlaneStride)), pinned: true);
        for (int j = 0; j < s.PlaneCount; j++)
        {
            for (int ky = 0; ky < k; ky++)
            {
                for (int kx = kx0; kx < kx1; kx++)
                {
                    // One word per tap in the source (C ≤ 64), channel c at bit c.
                    long from = ((long)(j * k + ky) * k + kx) * pad;
                    int bit = kx * c;
                    long to = ((long)(j * k + ky) * words + bit / 64) * pad;
                    for (int o = 0; o < s.OutChannels; o++)
                    {
                        ulong tap = s.Bits[from + o];
                        bits[to + o] |= tap << (bit & 63);
                        if ((bit & 63) + c > 64)
                        {
                            bits[to + pad + o] |= tap >> (64 - (bit & 63));
                        }
                    }
                }
            }
        }
        return bits;
    }

    private sealed record Columns(int InputWidth, nint[] Addresses);
}
