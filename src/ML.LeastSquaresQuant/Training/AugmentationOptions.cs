using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// Training-time augmentation (random crop with zero padding, horizontal flip) and per-channel normalization
/// (applied in training and evaluation). Everything runs on the batch's device.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Zero padding on each side before a random crop back to the original size (0 = no crop).</summary>
    public int CropPadding { get; init; }

    /// <summary>Flip each image horizontally with probability 1/2.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Per-channel mean subtracted after scaling to [0, 1]; none when empty.</summary>
    public IReadOnlyList<double> Mean { get; init; } = [];

    /// <summary>Per-channel standard deviation divided by; none when empty.</summary>
    public IReadOnlyList<double> Std { get; init; } = [];

    /// <summary>The CIFAR-100 recipe: crop 32 with padding 4, flip, CIFAR-100 channel statistics.</summary>
    public static AugmentationOptions Cifar100 { get; } = new()
    {
        CropPadding = 4, HorizontalFlip = true, Mean = [0.5071, 0.4865, 0.4409], Std = [0.2673, 0.2564, 0.2762],
    };

    /// <summary>Checks the settings against the data's channel count.</summary>
    /// <param name="channels">Channels of the images.</param>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public void Validate(long channels)
    {
        if (CropPadding < 0) { throw new ArgumentException($"CropPadding must be ≥ 0 but is {CropPadding}.", nameof(CropPadding)); }
        if (Mean.Count != Std.Count || (Mean.Count != 0 && Mean.Count != channels))
        {
            throw new ArgumentException(
                $"Mean and Std must both be empty or have one entry per channel ({channels}); they have {Mean.Count} and {Std.Count}.", nameof(Mean));
        }
        foreach (var s in Std)
        {
            if (!(s > 0)) { throw new ArgumentException($"Std entries must be > 0 but one is {s}.", nameof(Std)); }
        }
    }

    /// <summary>Normalizes, and in training crops and flips, a float batch [B, C, H, W].</summary>
    /// <param name="batch">The images.</param>
    /// <param name="generator">Draws the random crops and flips in training; <see langword="null"/> in evaluation,
    /// which only normalizes.</param>
    internal Tensor Apply(Tensor batch, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var x = batch;
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        if (generator is not null && CropPadding > 0)
        {
            int p = CropPadding;
            var padded = nn.functional.pad(x, [p, p, p, p]);
            var offsets = torch.randint(0, 2 * p + 1, [2, b], generator: generator).to(x.device);
            var rows = (offsets[0].unsqueeze(1) + torch.arange(h, device: x.device)).view(b, 1, h, 1)
                .expand(b, x.shape[1], h, w + 2 * p);
            var cols = (offsets[1].unsqueeze(1) + torch.arange(w, device: x.device)).view(b, 1, 1, w)
                .expand(b, x.shape[1], h, w);
            x = padded.gather(2, rows).gather(3, cols);
        }
        if (generator is not null && HorizontalFlip)
        {
            var flip = torch.rand([b], generator: generator).lt(0.5).to(x.device).view(b, 1, 1, 1);
            x = torch.where(flip, x.flip(3), x);
        }
        if (Mean.Count > 0)
        {
            var mean = torch.tensor(Mean is double[] m ? m : [.. Mean], device: x.device).to_type(x.dtype).view(1, -1, 1, 1);
            var std = torch.tensor(Std is double[] s ? s : [.. Std], device: x.device).to_type(x.dtype).view(1, -1, 1, 1);
            x = (x - mean) / std;
        }
        return (ReferenceEquals(x, batch) ? x.alias() : x).MoveToOuterDisposeScope();
    }
}
