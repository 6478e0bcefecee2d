using System;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// LeNet-5 variant: fp conv(5×5, 20) → ReLU → max-pool → BN → QuantConv(5×5, 50) → ReLU → max-pool →
/// fp linear(500) → ReLU → fp linear(classes).
/// </summary>
public sealed class LeNet5 : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> features;
    private readonly nn.Module<Tensor, Tensor> classifier;

    /// <summary>Builds the network with fresh weights.</summary>
    /// <param name="architecture">The description (validated here).</param>
    public LeNet5(LeNet5Architecture architecture) : base(nameof(LeNet5))
    {
        ArgumentNullException.ThrowIfNull(architecture);
        architecture.Validate();
        Architecture = architecture;
        long side = ((architecture.ImageSize - 4) / 2 - 4) / 2;
        features = nn.Sequential(
            ("conv1", new Conv2dLayer(architecture.InputChannels, 20, 5)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("bn2", nn.BatchNorm2d(20)),
            ("conv2", new QuantConv2d(20, 50, 5, architecture.Quantization)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()));
        classifier = nn.Sequential(
            ("fc1", nn.Linear(50 * side * side, 500)),
            ("relu3", nn.ReLU()),
            ("fc2", nn.Linear(500, architecture.NumClasses)));
        RegisterComponents();
    }

    /// <summary>The description this network was built from.</summary>
    public LeNet5Architecture Architecture { get; }

    /// <summary>Computes class logits.</summary>
    /// <param name="x">Images [N, InputChannels, ImageSize, ImageSize].</param>
    /// <returns>Logits [N, NumClasses].</returns>
    /// <exception cref="ArgumentException">The input's shape is not the one described.</exception>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int s = Architecture.ImageSize;
        if (x.dim() != 4 || x.shape[1] != Architecture.InputChannels || x.shape[2] != s || x.shape[3] != s)
        {
            throw new ArgumentException(
                $"LeNet5 expects images [N, {Architecture.InputChannels}, {s}, {s}] but got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        using var scope = NewDisposeScope();
        return classifier.call(features.call(x)).MoveToOuterDisposeScope();
    }
}
