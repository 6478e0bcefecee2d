using System;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// The reference's LeNet-5 variant for MNIST-sized images: full-precision first convolution and linear layers,
/// quantized second convolution.
/// </summary>
public sealed record LeNet5Architecture : NetworkArchitecture
{
    /// <summary>Creates a description with one grey input channel.</summary>
    public LeNet5Architecture() => InputChannels = 1;

    /// <summary>Side of the square input images (28 for MNIST); at least 16.</summary>
    public int ImageSize { get; init; } = 28;

    /// <summary>Quantization of the second convolution (the MNIST recipe: ls-2 activations, ls-1 weights).</summary>
    public LayerQuantization Quantization { get; init; } = LayerQuantization.FullPrecision;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        // Two 5×5 convolutions and two 2×2 poolings leave ((s − 4)/2 − 4)/2 pixels a side: below 16 that is 0 and
        // the first linear layer would have no inputs (libtorch then fails while initializing it).
        if (ImageSize < 16) { throw new ArgumentException($"ImageSize must be ≥ 16 but is {ImageSize}.", nameof(ImageSize)); }
        ArgumentNullException.ThrowIfNull(Quantization, nameof(Quantization));
    }

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build()
    {
        Validate();
        return new LeNet5(this);
    }
}
