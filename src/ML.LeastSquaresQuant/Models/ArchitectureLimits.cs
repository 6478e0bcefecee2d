using System;
using System.Linq;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// Upper limits a loaded architecture must respect, and a lower bound on the weights it implies, so that a damaged
/// or hostile model file is refused before its network is built (building allocates every weight, so a file
/// claiming width 2^31−1 would otherwise hang or exhaust memory long before the stored weights are compared).
/// </summary>
internal static class ArchitectureLimits
{
    /// <summary>Largest first-stage width (the paper uses 64; the last stage then has 8× as many channels).</summary>
    public const int MaxWidth = 4096;

    /// <summary>Largest number of blocks in one stage (ResNet-152 has 36).</summary>
    public const int MaxBlocksPerStage = 64;

    /// <summary>Largest number of classes.</summary>
    public const int MaxClasses = 100_000;

    /// <summary>Largest number of input channels.</summary>
    public const int MaxInputChannels = 4096;

    /// <summary>Largest image side (height, width, or LeNet-5's <c>ImageSize</c>).</summary>
    public const int MaxImageSide = 4096;

    /// <summary>
    /// Checks the limits, then that the network would hold no more weights than the stored stream has
    /// (<paramref name="storedElements"/>): a lower bound on its weights is compared, so the check cannot refuse a
    /// genuine file.
    /// </summary>
    /// <param name="architecture">The loaded description (already validated).</param>
    /// <param name="storedElements">Elements (all tensors) in the stored weights.</param>
    /// <exception cref="FormatException">A limit is exceeded or the weights are too few; the message names the field.</exception>
    public static void Check(NetworkArchitecture architecture, long storedElements)
    {
        Limit(architecture.InputChannels, MaxInputChannels, nameof(architecture.InputChannels));
        Limit(architecture.NumClasses, MaxClasses, nameof(architecture.NumClasses));
        double minimum;
        switch (architecture)
        {
            case QResNetArchitecture q:
                Limit(q.Width, MaxWidth, nameof(q.Width));
                if (q.BlocksPerStage.Any(b => b > MaxBlocksPerStage))
                {
                    throw new FormatException(
                        $"the architecture's BlocksPerStage [{string.Join(", ", q.BlocksPerStage)}] exceeds {MaxBlocksPerStage} blocks in a stage");
                }
                minimum = MinimumWeights(q);
                break;
            case LeNet5Architecture l:
                Limit(l.ImageSize, MaxImageSide, nameof(l.ImageSize));
                double side = Math.Floor((Math.Floor((l.ImageSize - 4) / 2.0) - 4) / 2.0);
                minimum = l.InputChannels * 20.0 * 25 + 20.0 * 50 * 25 + 50.0 * side * side * 500 + 500.0 * l.NumClasses;
                break;
            default:
                throw new FormatException($"unknown architecture family {architecture.GetType().Name}");
        }
        // Doubles: exact enough for a bound and free of overflow (every factor is limited above).
        if (minimum > storedElements)
        {
            throw new FormatException(
                $"the architecture needs at least {minimum:0} weights but the stored weights have {storedElements}: the architecture or the weights are damaged");
        }
    }

    // Convolution weights of the stem, of two 3×3 convolutions per block, and the head's matrix: every network of
    // this family holds at least these (plus batch-norm, shortcut and bias tensors).
    private static double MinimumWeights(QResNetArchitecture q)
    {
        double kernel = q.Stem == StemKind.Cifar ? 9 : 49;
        double total = q.InputChannels * (double)q.Width * kernel;
        double inChannels = q.Width;
        for (int s = 0; s < q.StageCount; s++)
        {
            double outChannels = q.Width * Math.Pow(2, s);
            total += 9 * outChannels * (inChannels + outChannels) + (q.BlocksPerStage[s] - 1) * 18 * outChannels * outChannels;
            inChannels = outChannels;
        }
        return total + inChannels * q.NumClasses;
    }

    private static void Limit(int value, int max, string name)
    {
        if (value > max)
        {
            throw new FormatException($"the architecture's {name} is {value}, above the limit {max}");
        }
    }
}
