using System;
using System.Collections.Generic;
using Microsoft.ML;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.MLNet;

public sealed partial class LsQuantResNetTrainer
{
    /// <summary>Default column names, shared by the catalog methods and <see cref="Options"/>.</summary>
    public static class Defaults
    {
        /// <summary>Label column: a key type.</summary>
        public const string Label = "Label";

        /// <summary>Features column: a vector of Single holding an image.</summary>
        public const string Features = "Features";

        /// <summary>Score column: class probabilities.</summary>
        public const string Score = "Score";

        /// <summary>Predicted label column: a key type with the label's key values.</summary>
        public const string PredictedLabel = "PredictedLabel";

        /// <summary>Activation scheme of the paper's best quantized student (<see cref="Training.Defaults.ActivationScheme"/>).</summary>
        public const string ActivationScheme = Training.Defaults.ActivationScheme;

        /// <summary>Weight scheme of the paper's students (<see cref="Training.Defaults.WeightScheme"/>).</summary>
        public const string WeightScheme = Training.Defaults.WeightScheme;

        /// <summary>Epochs of training when none are given (<see cref="Training.Defaults.Epochs"/>).</summary>
        public const int Epochs = Training.Defaults.Epochs;
    }

    /// <summary>
    /// Every option of the quantized ResNet trainer. Defaults: the paper's student (ResNet-18, CIFAR stem, width 64,
    /// xnor blocks with double shortcut) with the training recipe of <see cref="Training.Defaults"/> (ls-2 activations,
    /// ls-1 weights, clamp ±2, KD temperature 5 with teacher correction, Adam lr 1e-3, ×0.1 at 60 % and 85 %).
    /// </summary>
    public sealed class Options
    {
        /// <summary>Label column (key type). Defaults to <c>Label</c>.</summary>
        public string LabelColumnName { get; set; } = Defaults.Label;

        /// <summary>Features column (vector of Single: [C, H, W] from ExtractPixels, or flat with the image options set). Defaults to <c>Features</c>.</summary>
        public string FeatureColumnName { get; set; } = Defaults.Features;

        /// <summary>Score column to write. Defaults to <c>Score</c>.</summary>
        public string ScoreColumnName { get; set; } = Defaults.Score;

        /// <summary>Predicted label column to write. Defaults to <c>PredictedLabel</c>.</summary>
        public string PredictedLabelColumnName { get; set; } = Defaults.PredictedLabel;

        /// <summary>Image channels for a flat features column (0: take the shape from the column).</summary>
        public int ImageChannels { get; set; }

        /// <summary>Image height for a flat features column (0: take the shape from the column).</summary>
        public int ImageHeight { get; set; }

        /// <summary>Image width for a flat features column (0: take the shape from the column).</summary>
        public int ImageWidth { get; set; }

        /// <summary>Activation scheme of every stage: <c>fp</c>, <c>ls-1</c>, <c>ls-2</c>, <c>ls-T</c>, <c>gf-k</c>.</summary>
        public string ActivationScheme { get; set; } = Defaults.ActivationScheme;

        /// <summary>Weight scheme of every stage.</summary>
        public string WeightScheme { get; set; } = Defaults.WeightScheme;

        /// <summary>Per-stage activation schemes (layer1..layer4), overriding <see cref="ActivationScheme"/> when set.</summary>
        public IReadOnlyList<string>? StageActivationSchemes { get; set; }

        /// <summary>Per-stage weight schemes, overriding <see cref="WeightScheme"/> when set.</summary>
        public IReadOnlyList<string>? StageWeightSchemes { get; set; }

        /// <summary>Symmetric clamp bound before activation quantizers (2 in the CIFAR recipe, 3 for ImageNet); 0 for none.</summary>
        public double ClampAlpha { get; set; } = Training.Defaults.ClampAlpha;

        /// <summary>Moving averages of activation scalars.</summary>
        public MovingAverageMode MovingAverage { get; set; } = MovingAverageMode.Off;

        /// <summary>Weight of the old value in the moving averages of activation scalars (0.99: slow, smooth).</summary>
        public double MovingAverageMomentum { get; set; } = ActivationQuantizer.DefaultMomentum;

        /// <summary>ResNet depth: 18 ([2,2,2,2]) or 34 ([3,4,6,3]).</summary>
        public int Depth { get; set; } = 18;

        /// <summary>Width of the first stage.</summary>
        public int Width { get; set; } = 64;

        /// <summary>Stem: CIFAR (3×3, for small images) or ImageNet (7×7 + max-pool).</summary>
        public StemKind Stem { get; set; } = StemKind.Cifar;

        /// <summary>Use the fourth stage (8w channels).</summary>
        public bool UseFourthStage { get; set; } = true;

        /// <summary>Block type; <see langword="null"/>: regular blocks when everything is fp, xnor blocks otherwise.</summary>
        public BlockKind? Block { get; set; }

        /// <summary>Xnor blocks: add the shortcut after each convolution.</summary>
        public bool DoubleShortcut { get; set; } = true;

        /// <summary>Non-linearity in the blocks.</summary>
        public Nonlinearity Nonlinearity { get; set; } = Nonlinearity.ReLU;

        /// <summary>
        /// A complete network description that replaces the architecture options above (depth, width, stem, blocks,
        /// schemes); its input channels and class count are taken from the data. For example a
        /// <see cref="LeNet5Architecture"/>, or a <see cref="QResNetArchitecture"/> with different settings per stage.
        /// </summary>
        public NetworkArchitecture? Architecture { get; set; }

        /// <summary>Passes over the training data.</summary>
        public int Epochs { get; set; } = Defaults.Epochs;

        /// <summary>Images per batch.</summary>
        public int BatchSize { get; set; } = Training.Defaults.BatchSize;

        /// <summary>Optimizer family (SGD, Adam, AdamW, Adadelta).</summary>
        public OptimizerKind Optimizer { get; set; } = Training.Defaults.Optimizer;

        /// <summary>Learning rate before the schedule scales it.</summary>
        public double LearningRate { get; set; } = Training.Defaults.LearningRate;

        /// <summary>L2 penalty on the weights (0: none, as for the paper's Adam students).</summary>
        public double WeightDecay { get; set; }

        /// <summary>SGD momentum (Nesterov).</summary>
        public double Momentum { get; set; } = 0.9;

        /// <summary>Learning-rate schedule; <see langword="null"/>: <see cref="Training.Defaults.Schedule"/> of <see cref="Epochs"/> (×0.1 at 60 % and 85 % of training).</summary>
        public LearningRateSchedule? Schedule { get; set; }

        /// <summary>Zero padding for the random crop (0: no crop).</summary>
        public int CropPadding { get; set; } = 4;

        /// <summary>Random horizontal flips.</summary>
        public bool HorizontalFlip { get; set; } = true;

        /// <summary>Per-channel mean for normalization; <see langword="null"/>: measured on the training data (or taken from the teacher).</summary>
        public IReadOnlyList<double>? NormalizationMean { get; set; }

        /// <summary>Per-channel standard deviation for normalization; <see langword="null"/>: measured like the mean.</summary>
        public IReadOnlyList<double>? NormalizationStd { get; set; }

        /// <summary>A fitted teacher to distil from: an <see cref="LsQuantResNetTransformer"/> or a chain ending in one (loaded or in memory).</summary>
        public ITransformer? Teacher { get; set; }

        /// <summary>KD softmax temperature T (higher: softer teacher targets).</summary>
        public double DistillationTemperature { get; set; } = Training.Defaults.DistillationTemperature;

        /// <summary>Use cross-entropy for samples the teacher gets wrong.</summary>
        public bool TeacherCorrection { get; set; } = Training.Defaults.TeacherCorrection;

        /// <summary>Data evaluated after every epoch, with the columns the trainer sees (a key-typed label with the
        /// same keys as the training data: pass it through the same fitted MapValueToKey).</summary>
        public IDataView? ValidationSet { get; set; }

        /// <summary>Folder for training checkpoints; <see langword="null"/> for none.</summary>
        public string? CheckpointDirectory { get; set; }

        /// <summary>A checkpoint written by an earlier run with the same options to continue from.</summary>
        public string? ResumeFrom { get; set; }

        /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; <see langword="null"/>: CUDA device MLContext.GpuDeviceId when set, else CPU.</summary>
        public string? Device { get; set; }

        /// <summary>Seed for initialization, shuffling and augmentation; <see langword="null"/>: the MLContext's seed.</summary>
        public int? Seed { get; set; }

        /// <summary>Report progress to MLContext.Log every N batches.</summary>
        public int LogEveryNSteps { get; set; } = Training.Defaults.LogEveryNSteps;

        /// <summary>Cancels training between batches (ML.NET's own cancellation is checked at each progress report too).</summary>
        public System.Threading.CancellationToken CancellationToken { get; set; }

        /// <summary>Also called with every progress report.</summary>
        public Action<TrainingProgress>? Progress { get; set; }
    }
}
