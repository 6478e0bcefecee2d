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
        long full = 0, packedBits = 0, quantizedCount = 0;
        foreach (var (_, tensor, conv) in QuantizedWeights.Entries(network))
        {
            if (!tensor.is_floating_point())
            {
                continue; // counters such as num_batches_tracked are not part of a deployed model
            }
            long floatBytes = tensor.numel() * 4;
            full += floatBytes;
            if (conv is not null)
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
