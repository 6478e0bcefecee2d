using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// Reads the header of a TorchSharp <c>Module.save</c> stream (a 7-bit-encoded entry count, then per entry a
/// length-prefixed UTF-8 name, a 7-bit-encoded dtype, rank and dimensions, and the raw little-endian data) in
/// managed code, before any tensor is allocated, and checks the values: TorchSharp trusts every count and shape it
/// reads, so a damaged stream would otherwise reach libtorch as a huge or impossible tensor.
/// </summary>
internal static class StateDictCheck
{
    /// <summary>The most entries a state stream may list; our largest networks have a few hundred.</summary>
    public const int MaxEntries = 100_000;

    /// <summary>The most dimensions a stored tensor may have (our networks use at most 4).</summary>
    public const int MaxRank = 8;

    private const int Float32 = 6, Int64 = 4;

    /// <summary>One stored tensor: its name, dtype code (TorchSharp <c>ScalarType</c>) and shape.</summary>
    public sealed record Entry(string Name, int DType, long[] Shape, long Elements);

    /// <summary>
    /// Parses <paramref name="state"/> fully and checks it: every length within the stream, float32 values finite,
    /// batch-norm running variances ≥ 0, nothing after the last tensor.
    /// </summary>
    /// <param name="state">The bytes written by <c>Module.save</c>.</param>
    /// <returns>The entries in stream order.</returns>
    /// <exception cref="FormatException">The stream is damaged; the message names the entry and field.</exception>
    public static IReadOnlyList<Entry> Parse(byte[] state)
    {
        int position = 0;
        long count = ReadVarint(state, ref position, "the entry count");
        if (count < 0 || count > MaxEntries)
        {
            throw new FormatException($"the weights list {count} tensors (at most {MaxEntries} are possible)");
        }
        var entries = new List<Entry>((int)count);
        for (int i = 0; i < count; i++)
        {
            long nameLength = ReadVarint(state, ref position, $"the length of tensor name {i}");
            if (nameLength < 0 || nameLength > 1024 || nameLength > state.Length - position)
            {
                throw new FormatException($"tensor {i} has an impossible name length {nameLength}");
            }
            string name = Encoding.UTF8.GetString(state, position, (int)nameLength);
            position += (int)nameLength;
            string shown = ModelText.Printable(name);
            long dtype = ReadVarint(state, ref position, $"the dtype of tensor '{shown}'");
            if (dtype is not (Float32 or Int64))
            {
                throw new FormatException($"tensor '{shown}' has dtype code {dtype}; only float32 (6) and int64 (4) are written");
            }
            long rank = ReadVarint(state, ref position, $"the rank of tensor '{shown}'");
            if (rank < 0 || rank > MaxRank)
            {
                throw new FormatException($"tensor '{shown}' has rank {rank} (at most {MaxRank})");
            }
            var shape = new long[rank];
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                shape[d] = ReadVarint(state, ref position, $"dimension {d} of tensor '{shown}'");
                if (shape[d] < 0 || shape[d] > state.Length)
                {
                    throw new FormatException($"tensor '{shown}' has dimension {d} of size {shape[d]}");
                }
                // Bounded by the stream's length, so the product cannot overflow before the check below fails.
                elements = elements * shape[d];
                if (elements > state.Length)
                {
                    throw new FormatException($"tensor '{shown}' has more elements than its stream has bytes");
                }
            }
            long bytes = elements * (dtype == Float32 ? 4 : 8);
            if (bytes > state.Length - position)
            {
                throw new FormatException($"tensor '{shown}' needs {bytes} bytes but only {state.Length - position} remain");
            }
            if (dtype == Float32)
            {
                CheckValues(state.AsSpan(position, (int)bytes), name, shown);
            }
            position += (int)bytes;
            entries.Add(new Entry(name, (int)dtype, shape, elements));
        }
        if (position != state.Length)
        {
            throw new FormatException($"{state.Length - position} unexpected bytes follow the last tensor of the weights");
        }
        return entries;
    }

    private static void CheckValues(ReadOnlySpan<byte> data, string name, string shown)
    {
        bool variance = name.EndsWith("running_var", StringComparison.Ordinal);
        for (int k = 0; k < data.Length; k += 4)
        {
            float v = BinaryPrimitives.ReadSingleLittleEndian(data.Slice(k, 4));
            if (!float.IsFinite(v))
            {
                throw new FormatException($"tensor '{shown}' holds a non-finite value ({v}) at element {k / 4}");
            }
            if (variance && v < 0)
            {
                throw new FormatException($"batch-norm running variance '{shown}' holds a negative value ({v}) at element {k / 4}");
            }
        }
    }

    // The same 7-bit encoding as BinaryWriter.Write7BitEncodedInt64, which TorchSharp's Encode writes.
    private static long ReadVarint(byte[] data, ref int position, string what)
    {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length)
            {
                throw new FormatException($"the weights end inside {what}");
            }
            byte b = data[position++];
            result |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
        throw new FormatException($"{what} is not a valid 7-bit encoded number");
    }
}
