using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// The weights section of a model file since format version 2 (docs/model-format.md): every entry of the network's
/// state dictionary in its own order, the weights of each quantized convolution as bit-planes, everything else as
/// raw little-endian values (the model payload's SHA-256, <see cref="ModelChecksum"/>, covers it).
/// </summary>
/// <remarks>
/// <para>Layout: int32 entry count; per entry the name (BinaryWriter string), a kind byte and the data. Kind 0
/// (float32 tensor) and kind 2 (int64 tensor): int32 rank, int64 dimensions, the values. Kind 1 (packed
/// convolution weights): int32 out channels O, in channels C, kernel size K, planes k; float32 step scalars [O, k];
/// the sign bytes of <see cref="PackedConvWeights"/>. The weight-scalar cache of a packed convolution
/// (<c>….w_quant.scalars</c>) is not stored: it is the packed scalars.</para>
/// <para>The reader takes every name, kind, shape and length from the network the architecture builds and only
/// compares the file with it, so nothing is allocated from a length read from the file.</para>
/// </remarks>
internal static class PackedWeightStream
{
    private const byte FloatTensor = 0, PackedConv = 1, LongTensor = 2;

    /// <summary>Writes the section, length-prefixed.</summary>
    public static void Write(BinaryWriter writer, nn.Module network)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            var entries = QuantizedWeights.Entries(network).ToList();
            w.Write(entries.Count);
            foreach (var (name, tensor, conv) in entries)
            {
                w.Write(name);
                if (conv is not null)
                {
                    var planes = conv.PackedWeights();
                    w.Write(PackedConv);
                    w.Write(planes.OutChannels);
                    w.Write(planes.InChannels);
                    w.Write(planes.KernelSize);
                    w.Write(planes.PlaneCount);
                    w.Write(MemoryMarshal.AsBytes(planes.Scalars.AsSpan()));
                    w.Write(planes.Signs);
                    continue;
                }
                bool isLong = tensor.dtype == ScalarType.Int64;
                w.Write(isLong ? LongTensor : FloatTensor);
                w.Write(checked((int)tensor.dim()));
                foreach (long d in tensor.shape)
                {
                    w.Write(d);
                }
                using var data = tensor.detach().cpu().to_type(isLong ? ScalarType.Int64 : ScalarType.Float32).contiguous();
                w.Write(data.bytes);
            }
        }
        writer.Write(payload.Length);
        writer.Write(payload.GetBuffer(), 0, (int)payload.Length);
    }

    /// <summary>Reads the section's payload (read and checksummed by the caller) into <paramref name="network"/>
    /// (built from the stored architecture).</summary>
    /// <exception cref="FormatException">The payload does not match the network or holds non-finite or impossible
    /// values; the message names the entry.</exception>
    public static void Read(byte[] payload, nn.Module network)
    {
        var entries = QuantizedWeights.Entries(network).ToList();
        long expected = ExpectedLength(entries);
        if (payload.Length != expected)
        {
            throw new FormatException($"the weights section holds {payload.Length} bytes but this architecture's weights take {expected}");
        }
        using var r = new BinaryReader(new MemoryStream(payload));
        int count = r.ReadInt32();
        if (count != entries.Count)
        {
            throw new FormatException($"the weights section lists {count} tensors; the architecture has {entries.Count}");
        }
        using var noGrad = no_grad();
        foreach (var (name, target, conv) in entries)
        {
            string stored = r.ReadString();
            if (stored != name)
            {
                throw new FormatException($"weights entry '{Printable(stored)}' found where '{name}' belongs");
            }
            byte kind = r.ReadByte();
            if (conv is not null)
            {
                ReadPacked(r, name, kind, conv);
                continue;
            }
            bool isLong = target.dtype == ScalarType.Int64;
            if (kind != (isLong ? LongTensor : FloatTensor) || r.ReadInt32() != target.dim()
                || target.shape.Any(d => r.ReadInt64() != d))
            {
                throw new FormatException($"weights entry '{name}' does not have the shape [{string.Join(", ", target.shape)}]");
            }
            var bytes = r.ReadBytes(checked((int)(target.numel() * 4 * (isLong ? 2 : 1))));
            using var values = isLong ? TorchSharp.torch.tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), target.shape)
                : TorchSharp.torch.tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), target.shape);
            if (!isLong && !values.isfinite().all().item<bool>())
            {
                throw new FormatException($"weights entry '{name}' holds NaN or infinite values");
            }
            if (name.EndsWith(".running_var", StringComparison.Ordinal) && values.lt(0).any().item<bool>())
            {
                throw new FormatException($"weights entry '{name}' holds a negative variance");
            }
            target.copy_(values);
        }
    }

    private static void ReadPacked(BinaryReader r, string name, byte kind, QuantConv2d conv)
    {
        int planes = BinaryConvolution.StepCount(conv.Quantization.WeightScheme);
        if (kind != PackedConv || r.ReadInt32() != conv.OutChannels || r.ReadInt32() != conv.InChannels
            || r.ReadInt32() != conv.KernelSize || r.ReadInt32() != planes)
        {
            throw new FormatException($"weights entry '{name}' is not packed as [{conv.OutChannels}, {conv.InChannels}, " +
                $"{conv.KernelSize}, {conv.KernelSize}] with {planes} planes");
        }
        int o = checked((int)conv.OutChannels);
        var scalars = MemoryMarshal.Cast<byte, float>(r.ReadBytes(o * planes * 4)).ToArray();
        if (scalars.Any(v => !(v >= 0) || !float.IsFinite(v)))
        {
            throw new FormatException($"weights entry '{name}' has a NaN, infinite or negative scalar");
        }
        int rowBytes = PackedConvWeights.RowBytesFor(conv.InChannels, conv.KernelSize);
        var signs = r.ReadBytes(checked(planes * o * rowBytes));
        var weights = new PackedConvWeights(o, (int)conv.InChannels, (int)conv.KernelSize, planes, scalars, signs);
        conv.StoredPlanes = weights;
        conv.Weight.copy_(tensor(weights.Reconstruct(), conv.Weight.shape));
        // The weight quantizer's scalar cache: one column per scalar of the scheme (ls-T's two equal steps are one v).
        int columns = conv.Quantization.WeightScheme.ScalarCount;
        var cache = Enumerable.Range(0, o * columns).Select(i => scalars[i / columns * planes + i % columns]).ToArray();
        conv.WeightQuantizer.CachedScalars!.copy_(tensor(cache, [o, columns]));
    }

    private static long ExpectedLength(List<(string Name, Tensor Tensor, QuantConv2d? Conv)> entries)
    {
        long total = 4;
        foreach (var (name, tensor, conv) in entries)
        {
            total += StringBytes(name) + 1;
            if (conv is not null)
            {
                int planes = BinaryConvolution.StepCount(conv.Quantization.WeightScheme);
                total += 16 + conv.OutChannels * planes * 4L + (long)planes * conv.OutChannels * PackedConvWeights.RowBytesFor(conv.InChannels, conv.KernelSize);
            }
            else
            {
                total += 4 + 8L * tensor.dim() + tensor.numel() * (tensor.dtype == ScalarType.Int64 ? 8 : 4);
            }
        }
        return total;
    }

    private static long StringBytes(string s)
    {
        int bytes = System.Text.Encoding.UTF8.GetByteCount(s), prefix = 1;
        for (int v = bytes >> 7; v != 0; v >>= 7)
        {
            prefix++;
        }
        return prefix + bytes;
    }

    /// <summary>A name read from a damaged file, safe to put in a message.</summary>
    private static string Printable(string s) =>
        new(s.Take(80).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '?' : c).ToArray());
}
