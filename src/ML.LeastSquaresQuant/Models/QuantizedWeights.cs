using System;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// A network's state as a deployed model holds it: every state-dictionary entry in order, with the weights of each
/// convolution whose weights are quantized marked (they are stored as bits), and those convolutions' weight-scalar
/// caches (<c>….w_quant.scalars</c>) left out, because they belong to the packed weights. One home for what
/// <see cref="ModelSize"/> counts and what the model file stores.
/// </summary>
internal static class QuantizedWeights
{
    /// <summary>The entries; <c>Conv</c> is the owning convolution for quantized weights, otherwise null.</summary>
    public static IEnumerable<(string Name, Tensor Tensor, QuantConv2d? Conv)> Entries(nn.Module network)
    {
        var quantized = network.named_modules()
            .Where(m => m.module is QuantConv2d conv && conv.Quantization.WeightScheme.IsQuantized)
            .ToDictionary(m => m.name, m => (QuantConv2d)m.module);
        foreach (var (name, tensor) in network.state_dict())
        {
            int dot = name.LastIndexOf('.');
            string owner = dot < 0 ? "" : name[..dot];
            if (owner.EndsWith(".w_quant", StringComparison.Ordinal) && quantized.ContainsKey(owner[..^8]))
            {
                continue;
            }
            bool isWeight = name.EndsWith(".weight", StringComparison.Ordinal);
            yield return (name, tensor, isWeight && quantized.TryGetValue(owner, out var conv) ? conv : null);
        }
    }
}
