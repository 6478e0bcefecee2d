using System;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// A quantized ResNet: full-precision stem, three or four stages of basic blocks (widths w, 2w, 4w, 8w; strides
/// 1, 2, 2, 2) with per-stage quantization, full-precision down-sampling shortcuts and head.
/// </summary>
public sealed record QResNetArchitecture : NetworkArchitecture
{
    /// <summary>The stem (CIFAR 3×3, or ImageNet 7×7 + max-pool).</summary>
    public StemKind Stem { get; init; } = StemKind.Cifar;

    /// <summary>Width w of the first stage (64 in the paper).</summary>
    public int Width { get; init; } = 64;

    /// <summary>Blocks per stage: [2,2,2,2] for ResNet-18, [3,4,6,3] for ResNet-34; 3 entries drop the fourth stage.</summary>
    public IReadOnlyList<int> BlocksPerStage { get; init; } = [2, 2, 2, 2];

    /// <summary>Block type: regular (teacher) or xnor (students).</summary>
    public BlockKind Block { get; init; } = BlockKind.Regular;

    /// <summary>Xnor blocks only: add the shortcut after each of the two convolutions (Bi-Real style).</summary>
    public bool DoubleShortcut { get; init; }

    /// <summary>Non-linearity inside the blocks.</summary>
    public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.ReLU;

    /// <summary>Quantization of each stage's convolutions (one entry per stage); all full precision when empty.</summary>
    public IReadOnlyList<LayerQuantization> StageQuantization { get; init; } = [];

    /// <summary>The number of stages (3 or 4).</summary>
    public int StageCount => BlocksPerStage.Count;

    /// <summary>ResNet-18 ([2,2,2,2]) with the same quantization in every stage.</summary>
    /// <param name="numClasses">Classes the network tells apart (outputs of the final linear layer).</param>
    /// <param name="inputChannels">Channels of the input images (1 grey, 3 RGB).</param>
    /// <param name="quantization">Quantization of all stages; full precision with regular blocks when null,
    /// otherwise xnor blocks with double shortcut (the paper's students).</param>
    /// <param name="width">Width of the first stage.</param>
    /// <param name="stem">First layers: CIFAR (3×3, full resolution, for small images) or ImageNet (7×7 stride 2 and max-pool).</param>
    /// <returns>The description.</returns>
    public static QResNetArchitecture ResNet18(int numClasses, int inputChannels = 3, LayerQuantization? quantization = null,
        int width = 64, StemKind stem = StemKind.Cifar) =>
        Create([2, 2, 2, 2], numClasses, inputChannels, quantization, width, stem);

    /// <summary>ResNet-34 ([3,4,6,3]); arguments as for <see cref="ResNet18"/>.</summary>
    /// <param name="numClasses">Classes the network tells apart (outputs of the final linear layer).</param>
    /// <param name="inputChannels">Channels of the input images (1 grey, 3 RGB).</param>
    /// <param name="quantization">Quantization of all stages (see <see cref="ResNet18"/>).</param>
    /// <param name="width">Width of the first stage.</param>
    /// <param name="stem">First layers: CIFAR (3×3, full resolution, for small images) or ImageNet (7×7 stride 2 and max-pool).</param>
    /// <returns>The description.</returns>
    public static QResNetArchitecture ResNet34(int numClasses, int inputChannels = 3, LayerQuantization? quantization = null,
        int width = 64, StemKind stem = StemKind.Cifar) =>
        Create([3, 4, 6, 3], numClasses, inputChannels, quantization, width, stem);

    private static QResNetArchitecture Create(int[] blocks, int numClasses, int inputChannels, LayerQuantization? quantization,
        int width, StemKind stem)
    {
        bool student = quantization is not null;
        return new QResNetArchitecture
        {
            NumClasses = numClasses,
            InputChannels = inputChannels,
            Width = width,
            Stem = stem,
            BlocksPerStage = blocks,
            Block = student ? BlockKind.Xnor : BlockKind.Regular,
            DoubleShortcut = student,
            StageQuantization = Enumerable.Repeat(quantization ?? LayerQuantization.FullPrecision, blocks.Length).ToArray(),
        };
    }

    /// <summary>The quantization of stage <paramref name="stage"/> (0-based).</summary>
    /// <param name="stage">0-based stage (layer1 is 0).</param>
    /// <returns>The stage's quantization.</returns>
    public LayerQuantization QuantizationOf(int stage) =>
        StageQuantization.Count == 0 ? LayerQuantization.FullPrecision : StageQuantization[stage];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Width < 1) { throw new ArgumentException($"Width must be ≥ 1 but is {Width}.", nameof(Width)); }
        if (BlocksPerStage is null || BlocksPerStage.Count is < 3 or > 4 || BlocksPerStage.Any(b => b < 1))
        {
            throw new ArgumentException(
                $"BlocksPerStage must list 3 or 4 positive counts but is [{string.Join(", ", BlocksPerStage ?? [])}].", nameof(BlocksPerStage));
        }
        if (StageQuantization is null || (StageQuantization.Count != 0 && StageQuantization.Count != BlocksPerStage.Count))
        {
            throw new ArgumentException(
                $"StageQuantization must have one entry per stage ({BlocksPerStage.Count}) but has {StageQuantization?.Count ?? 0}.",
                nameof(StageQuantization));
        }
        if (!Enum.IsDefined(Stem) || !Enum.IsDefined(Block) || !Enum.IsDefined(Nonlinearity))
        {
            throw new ArgumentException($"Unknown stem, block or nonlinearity ({Stem}, {Block}, {Nonlinearity}).");
        }
    }

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build()
    {
        Validate();
        return new QResNet(this);
    }
}
