using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using TorchSharp;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// Trains a least-squares quantized ResNet image classifier, optionally distilled from a full-precision teacher.
/// Created by <c>mlContext.MulticlassClassification.Trainers.LsQuantResNet(...)</c>.
/// </summary>
/// <remarks>
/// Input: a key-typed label and a features column holding one image per row (vector of Single, [C, H, W] as
/// ExtractPixels gives it, or flat with the image options). Output: <c>Score</c> and <c>PredictedLabel</c>.
/// Training honours MLContext's Seed, GpuDeviceId and FallbackToCpu, logs progress to MLContext.Log, and stops
/// when the MLContext is cancelled (checked at every progress report).
/// </remarks>
public sealed partial class LsQuantResNetTrainer : IEstimator<LsQuantResNetTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly Options _options;

    internal LsQuantResNetTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        _options = options;
        BuildArchitecture(2, 3); // validates schemes, depth and widths now rather than at Fit
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Epochs, nameof(options.Epochs));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize, nameof(options.BatchSize));
        ArgumentException.ThrowIfNullOrEmpty(options.LabelColumnName, nameof(options.LabelColumnName));
        ArgumentException.ThrowIfNullOrEmpty(options.FeatureColumnName, nameof(options.FeatureColumnName));
    }

    /// <summary>Trains on <paramref name="input"/>.</summary>
    /// <param name="input">Training data.</param>
    /// <returns>The fitted transformer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it).</exception>
    /// <exception cref="ArgumentException">The teacher or the data does not fit.</exception>
    public LsQuantResNetTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var shape = ImageColumns.ResolveShape(input.Schema.GetColumnOrNull(o.FeatureColumnName), o.FeatureColumnName,
            o.ImageChannels, o.ImageHeight, o.ImageWidth);
        var (classes, keyValues) = ImageColumns.ResolveLabel(input.Schema.GetColumnOrNull(o.LabelColumnName), o.LabelColumnName);
        var teacher = FindTeacher(o.Teacher, shape, classes);

        using var train = ImageColumns.Read(input, o.FeatureColumnName, o.LabelColumnName, shape, classes, "training");
        using var validation = o.ValidationSet is null ? null : ReadValidation(o.ValidationSet, shape, classes);
        var (mean, std) = Normalization(train, teacher);

        int seed = o.Seed ?? MLNetInternals.Seed(_env) ?? Random.Shared.Next();
        torch.manual_seed(seed);
        var architecture = BuildArchitecture(shape.Channels, classes, shape);
        var network = architecture.Build();
        using var channel = _env.Start("LsQuantResNet");
        Log(channel, $"Training {Describe(architecture)} on {train.Count} images {shape}, {classes} classes" +
            (teacher is null ? "" : $", distilling from a teacher (T = {o.DistillationTemperature}, teacher correction {(o.TeacherCorrection ? "on" : "off")})") + ".");

        var result = TrainingLoop.Run(network, train, validation, new TrainingOptions
        {
            Epochs = o.Epochs,
            BatchSize = o.BatchSize,
            Optimizer = new OptimizerSettings { Kind = o.Optimizer, LearningRate = o.LearningRate, WeightDecay = o.WeightDecay, Momentum = o.Momentum },
            Schedule = o.Schedule ?? Training.Defaults.Schedule(o.Epochs),
            Seed = seed,
            Device = o.Device ?? (MLNetInternals.GpuDeviceId(_env) is int gpu ? $"cuda:{gpu}" : "cpu"),
            FallbackToCpu = MLNetInternals.FallbackToCpu(_env),
            Augmentation = new AugmentationOptions { CropPadding = o.CropPadding, HorizontalFlip = o.HorizontalFlip, Mean = mean, Std = std },
            Teacher = teacher?.Network,
            DistillationTemperature = o.DistillationTemperature,
            TeacherCorrection = o.TeacherCorrection,
            CheckpointDirectory = o.CheckpointDirectory,
            ResumeFrom = o.ResumeFrom,
            LogEveryNSteps = o.LogEveryNSteps,
            CancellationToken = o.CancellationToken,
            Progress = p =>
            {
                MLNetInternals.CheckAlive(_env);
                Log(channel, p.EpochMetrics is { } m
                    ? $"Epoch {m.Epoch}/{o.Epochs}: loss {m.TrainLoss:F4}, accuracy {m.TrainTop1:P2}" +
                      (m.ValidationTop1 is double v ? $", validation accuracy {v:P2}" : "") + $", {m.ImagesPerSecond:F1} images/s"
                    : $"Epoch {p.Epoch}, batch {p.Step}/{p.StepsPerEpoch}: loss {p.Loss:F4}, lr {p.LearningRate:G3}, {p.ImagesPerSecond:F1} images/s, ETA {p.Remaining:hh\\:mm\\:ss}");
                o.Progress?.Invoke(p);
            },
        });
        teacher?.Network.to(TorchSharp.torch.CPU);
        return new LsQuantResNetTransformer(network, architecture, shape, o.FeatureColumnName, o.ScoreColumnName,
            o.PredictedLabelColumnName, keyValues, mean, std, result.History);
    }

    /// <summary>The schema after the transformer: the input plus Score and PredictedLabel.</summary>
    /// <param name="inputSchema">The input's schema shape.</param>
    /// <returns>The output's schema shape.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = _options;
        if (SchemaShapeLookup.Find(inputSchema, o.FeatureColumnName) is not { } features)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Features column '{o.FeatureColumnName}' is not in the data.");
        }
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Features column '{o.FeatureColumnName}' must be a known-size vector of Single but is {features.Kind} of {features.ItemType}.");
        }
        if (SchemaShapeLookup.Find(inputSchema, o.LabelColumnName) is not { } label)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{o.LabelColumnName}' is not in the data.");
        }
        if (!label.IsKey)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Label column '{o.LabelColumnName}' must be a key type (use MapValueToKey) but is {label.ItemType}.");
        }
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[o.ScoreColumnName] = MLNetInternals.ShapeColumn(o.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        columns[o.PredictedLabelColumnName] = MLNetInternals.ShapeColumn(o.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, true, label.Annotations);
        return new SchemaShape(columns.Values);
    }

    private NetworkArchitecture BuildArchitecture(int channels, int classes, ImageShape? shape = null)
    {
        var o = _options;
        if (o.Architecture is not null)
        {
            var given = o.Architecture with { InputChannels = channels, NumClasses = classes };
            if (given is LeNet5Architecture lenet && shape is not null)
            {
                if (shape.Height != shape.Width)
                {
                    throw new ArgumentException($"LeNet-5 needs square images but the features hold {shape}.", nameof(Options.Architecture));
                }
                given = lenet with { ImageSize = shape.Height };
            }
            given.Validate();
            return given;
        }
        int stages = o.UseFourthStage ? 4 : 3;
        int[] blocks = o.Depth switch
        {
            18 => [2, 2, 2, 2],
            34 => [3, 4, 6, 3],
            _ => throw new ArgumentOutOfRangeException(nameof(o.Depth), o.Depth, "Depth must be 18 or 34."),
        };
        var clamp = o.ClampAlpha > 0 ? ActivationClamp.Symmetric(o.ClampAlpha) : ActivationClamp.Identity;
        var stageQuantization = new LayerQuantization[stages];
        for (int s = 0; s < stages; s++)
        {
            string activation = PerStage(o.StageActivationSchemes, s, o.ActivationScheme, nameof(o.StageActivationSchemes), stages);
            string weight = PerStage(o.StageWeightSchemes, s, o.WeightScheme, nameof(o.StageWeightSchemes), stages);
            stageQuantization[s] = new LayerQuantization(QuantScheme.Parse(activation), QuantScheme.Parse(weight), clamp,
                o.MovingAverage, o.MovingAverageMomentum);
        }
        bool allFullPrecision = stageQuantization.All(q => !q.ActivationScheme.IsQuantized && !q.WeightScheme.IsQuantized);
        var architecture = new QResNetArchitecture
        {
            InputChannels = channels,
            NumClasses = classes,
            Stem = o.Stem,
            Width = o.Width,
            BlocksPerStage = blocks[..stages],
            Block = o.Block ?? (allFullPrecision ? BlockKind.Regular : BlockKind.Xnor),
            DoubleShortcut = o.DoubleShortcut,
            Nonlinearity = o.Nonlinearity,
            StageQuantization = stageQuantization,
        };
        architecture.Validate();
        return architecture;
    }

    private static string PerStage(IReadOnlyList<string>? perStage, int stage, string fallback, string name, int stages)
    {
        if (perStage is null)
        {
            return fallback;
        }
        if (perStage.Count != stages)
        {
            throw new ArgumentException($"{name} must list one scheme per stage ({stages}) but lists {perStage.Count}.", name);
        }
        return perStage[stage];
    }

    private ImageDataset ReadValidation(IDataView data, ImageShape shape, int classes)
    {
        var o = _options;
        var vshape = ImageColumns.ResolveShape(data.Schema.GetColumnOrNull(o.FeatureColumnName), o.FeatureColumnName, o.ImageChannels, o.ImageHeight, o.ImageWidth);
        var (vclasses, _) = ImageColumns.ResolveLabel(data.Schema.GetColumnOrNull(o.LabelColumnName), o.LabelColumnName);
        if (vshape != shape || vclasses != classes)
        {
            throw new ArgumentException(
                $"The validation set has images {vshape} and {vclasses} classes but the training data has {shape} and {classes}.", nameof(Options.ValidationSet));
        }
        return ImageColumns.Read(data, o.FeatureColumnName, o.LabelColumnName, shape, classes, "validation");
    }

    private (double[] Mean, double[] Std) Normalization(ImageDataset train, LsQuantResNetTransformer? teacher)
    {
        var o = _options;
        if (o.NormalizationMean is not null && o.NormalizationStd is not null)
        {
            return ([.. o.NormalizationMean], [.. o.NormalizationStd]);
        }
        if (teacher is not null)
        {
            // Teacher and student see the same normalized batch, so the student takes the teacher's normalization.
            return (teacher.NormalizationMean, teacher.NormalizationStd);
        }
        return ImageColumns.ChannelStatistics(train);
    }

    private static LsQuantResNetTransformer? FindTeacher(ITransformer? teacher, ImageShape shape, int classes)
    {
        if (teacher is null)
        {
            return null;
        }
        var found = Flatten(teacher).OfType<LsQuantResNetTransformer>().LastOrDefault()
            ?? throw new ArgumentException(
                $"The teacher ({teacher.GetType().Name}) contains no LsQuantResNet transformer; pass a model fitted with LsQuantResNet.", nameof(Options.Teacher));
        if (found.NumClasses != classes)
        {
            throw new ArgumentException($"The teacher predicts {found.NumClasses} classes but the label has {classes}.", nameof(Options.Teacher));
        }
        if (found.Shape != shape)
        {
            throw new ArgumentException($"The teacher was trained on images {found.Shape} but the features hold {shape}.", nameof(Options.Teacher));
        }
        return found;
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    private static string Describe(NetworkArchitecture architecture) => architecture switch
    {
        QResNetArchitecture a => $"{a.BlocksPerStage.Sum() * 2 + 2}-layer QResNet (" +
            string.Join(", ", Enumerable.Range(0, a.StageCount).Select(i => a.QuantizationOf(i)).Select((q, i) => $"layer{i + 1} x={q.ActivationScheme} w={q.WeightScheme}")) + ")",
        LeNet5Architecture l => $"LeNet-5 (conv2 x={l.Quantization.ActivationScheme} w={l.Quantization.WeightScheme})",
        _ => architecture.GetType().Name,
    };

    private static void Log(IChannel channel, string message) =>
        channel.Send(new ChannelMessage(ChannelMessageKind.Info, MessageSensitivity.None, message));
}
