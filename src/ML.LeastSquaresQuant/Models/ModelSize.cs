using System;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>How large a network is with float32 weights and with its quantized weights stored as bits.</summary>
/// <param name="FullPrecisionBytes">Every parameter and batch-norm statistic as float32.</param>
/// <param name="QuantizedBytes">The same, but each quantized convolution's weights as b sign bits per element
/// (b = binary vectors of its scheme) plus its per-channel float32 scalars.</param>
/// <param name="QuantizedWeightCount">How many weights are stored as bits.</param>
public sealed record ModelSize(long FullPrecisionBytes, long QuantizedBytes, long QuantizedWeightCount)
{
    /// <summary>Full-precision size divided by quantized size.</summary>
    public double CompressionRatio => QuantizedBytes == 0 ? 1 : (double)FullPrecisionBytes / QuantizedBytes;

    /// <summary>Measures a network of this library.</summary>
    /// <param name="network">The network.</param>
    /// <returns>The sizes.</returns>
    public static ModelSize Measure(nn.Module network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var quantized = network.named_modules()
            .Where(m => m.module is QuantConv2d conv && conv.Quantization.WeightScheme.IsQuantized)
            .ToDictionary(m => m.name, m => (QuantConv2d)m.module);
        long full = 0, packedBits = 0, quantizedCount = 0;
        foreach (var (name, tensor) in network.state_dict())
        {
            if (!tensor.is_floating_point())
            {
                continue; // counters such as num_batches_tracked are not part of a deployed model
            }
            long floatBytes = tensor.numel() * 4;
            int dot = name.LastIndexOf('.');
            string owner = dot < 0 ? "" : name[..dot], leaf = dot < 0 ? name : name[(dot + 1)..];
            bool weightScalarCache = owner.EndsWith(".w_quant", StringComparison.Ordinal) && quantized.ContainsKey(owner[..^8]);
            if (weightScalarCache)
            {
                continue; // counted with the weights they belong to
            }
            full += floatBytes;
            if (leaf == "weight" && quantized.TryGetValue(owner, out var conv))
            {
                var scheme = conv.Quantization.WeightScheme;
                packedBits += tensor.numel() * scheme.BinaryVectorCount + conv.OutChannels * scheme.ScalarCount * 32L;
                quantizedCount += tensor.numel();
            }
            else
            {
                packedBits += floatBytes * 8;
            }
        }
        return new ModelSize(full, (packedBits + 7) / 8, quantizedCount);
    }
}
