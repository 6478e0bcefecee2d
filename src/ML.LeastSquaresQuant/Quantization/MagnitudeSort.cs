using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>Sorts the magnitudes that the exact two-level solver (<see cref="ExactTwoLevelSolver"/>) leaves undecided.</summary>
internal static class MagnitudeSort
{
    /// <summary>Undecided elements above this count are sorted by radix (float rows) rather than by comparison.</summary>
    private const int RadixThreshold = 256;

    /// <summary>
    /// Sorts finite magnitudes ascending. The bracketing stalls where many elements share a value near the optimum
    /// (ReLU zeros and clamped activations map to one value per channel), and then hundreds of elements are left (about 400 of 8,000 per row in a trained width-16 student);
    /// non-negative finite floats order like their bit patterns, so a float row is sorted by an LSD radix sort on
    /// those (linear time, the same result as a comparison sort: equal values have equal bits).
    /// </summary>
    public static void Sort<T>(Span<T> values)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || values.Length <= RadixThreshold)
        {
            values.Sort();
            return;
        }
        var keys = MemoryMarshal.Cast<T, uint>(values);
        uint[] rented = System.Buffers.ArrayPool<uint>.Shared.Rent(keys.Length);
        try
        {
            RadixSort(keys, rented.AsSpan(0, keys.Length));
        }
        finally
        {
            System.Buffers.ArrayPool<uint>.Shared.Return(rented);
        }
    }

    /// <summary>Sorts <paramref name="keys"/> ascending, byte by byte from the lowest, through <paramref name="scratch"/>
    /// (same length); a byte that is the same in every key is skipped.</summary>
    private static void RadixSort(Span<uint> keys, Span<uint> scratch)
    {
        Span<int> counts = stackalloc int[4 * 256];
        counts.Clear();
        foreach (uint key in keys)
        {
            counts[(int)(key & 0xFF)]++;
            counts[256 + (int)(key >> 8 & 0xFF)]++;
            counts[512 + (int)(key >> 16 & 0xFF)]++;
            counts[768 + (int)(key >> 24)]++;
        }
        Span<uint> source = keys, target = scratch;
        for (int digit = 0; digit < 4; digit++)
        {
            var count = counts.Slice(digit * 256, 256);
            int shift = digit * 8;
            if (count[(int)(source[0] >> shift & 0xFF)] == source.Length)
            {
                continue;
            }
            int offset = 0;
            for (int b = 0; b < 256; b++)
            {
                int c = count[b];
                count[b] = offset;
                offset += c;
            }
            foreach (uint key in source)
            {
                target[count[(int)(key >> shift & 0xFF)]++] = key;
            }
            var swap = source;
            source = target;
            target = swap;
        }
        if (source != keys)
        {
            source.CopyTo(keys);
        }
    }
}
