using System;
using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>Turns the binary engine (docs/inference.md) on or off for every layer and block of a network.</summary>
internal static class BinaryEngine
{
    /// <summary>
    /// Every quantized convolution that the engine supports scores on it, and every xnor block whose two
    /// convolutions do runs fused (<paramref name="on"/> true); or everything runs on the float path (false).
    /// Not thread-safe against concurrent scoring.
    /// </summary>
    public static void Use(nn.Module network, bool on)
    {
        ArgumentNullException.ThrowIfNull(network);
        // Layers first, then blocks, then networks: each fused engine is built from the engines of its parts.
        foreach (var module in network.modules())
        {
            (module as QuantConv2d)?.UseBinaryEngine(on);
        }
        foreach (var module in network.modules())
        {
            (module as XnorBlock)?.UseBinaryEngine(on);
        }
        // modules() lists the descendants, not the network itself.
        foreach (var module in network.modules().Prepend(network))
        {
            (module as QResNet)?.UseBinaryEngine(on);
        }
    }
}
