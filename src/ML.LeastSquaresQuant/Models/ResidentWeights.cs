using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// The memory a network's weights hold while it scores: the storage of every parameter and buffer (a float weight
/// released by <see cref="QuantConv2d.ReleaseFloatWeights"/> keeps one placeholder value), frozen quantized copies,
/// packed planes, the engine's kernel layout and the float path's planes where they exist, and the C# kernels'
/// copies of the full-precision layers. Each array or storage
/// is counted once.
/// </summary>
internal static class ResidentWeights
{
    /// <summary>The bytes held for <paramref name="network"/>'s weights.</summary>
    public static long Bytes(nn.Module network)
    {
        var arrays = new HashSet<object>(ReferenceEqualityComparer.Instance);
        long bytes = network.parameters().Sum(StorageBytes) + network.buffers().Sum(StorageBytes);
        foreach (var conv in network.modules().OfType<QuantConv2d>())
        {
            if (conv.WeightQuantizer.Frozen is { } frozen)
            {
                bytes += StorageBytes(frozen);
            }
            foreach (var array in conv.HeldWeightArrays())
            {
                if (arrays.Add(array))
                {
                    bytes += System.Buffer.ByteLength(array);
                }
            }
            bytes += conv.HeldWeightTensors().Sum(StorageBytes);
        }
        // The C# kernels of the full-precision layers copy their weights (FloatConv2d, GlobalPoolLinear).
        bytes += network.modules().OfType<Conv2dLayer>().Sum(c => c.CpuKernel?.HeldBytes ?? 0);
        bytes += network.modules().Prepend(network).OfType<QResNet>().Sum(r => r.CpuHeadBytes);
        return bytes;
    }

    private static long StorageBytes(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => t.storage<float>().Count * 4L,
        ScalarType.Float64 => t.storage<double>().Count * 8L,
        ScalarType.Int64 => t.storage<long>().Count * 8L,
        _ => t.numel() * t.ElementSize,
    };
}
