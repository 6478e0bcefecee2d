using System;
using System.IO;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>Reads a YAML experiment and turns it into the library's types, with errors that name the file and key.</summary>
internal static class ConfigLoader
{
    public static ExperimentConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException($"Config file '{path}' does not exist.");
        }
        var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        ExperimentConfig? config;
        try
        {
            config = deserializer.Deserialize<ExperimentConfig>(File.ReadAllText(path));
        }
        catch (YamlException ex)
        {
            string detail = ex.InnerException?.Message ?? ex.Message;
            throw new ConfigException($"{path}({ex.Start.Line},{ex.Start.Column}): {Describe(detail)}", ex);
        }
        config ??= new ExperimentConfig();
        Validate(config, path);
        return config;
    }

    private static string Describe(string message)
    {
        // YamlDotNet says "Property 'foo' not found on type '...'"; say it in the config's own words.
        const string marker = "Property '";
        int start = message.IndexOf(marker, StringComparison.Ordinal);
        if (start >= 0 && message.Contains("not found", StringComparison.Ordinal))
        {
            int end = message.IndexOf('\'', start + marker.Length);
            return $"unknown key '{message[(start + marker.Length)..end]}'";
        }
        return message;
    }

    private static void Validate(ExperimentConfig c, string path)
    {
        void Check(bool ok, string key, string problem)
        {
            if (!ok)
            {
                throw new ConfigException($"{path}: {key}: {problem}");
            }
        }
        Check(!string.IsNullOrWhiteSpace(c.ExperimentName) && c.ExperimentName.IndexOfAny(Path.GetInvalidFileNameChars()) < 0,
            "experiment_name", $"'{c.ExperimentName}' is not a valid folder name");
        Check(DataSets.Names.Contains(c.Data.Dataset), "data.dataset", $"'{c.Data.Dataset}' is not one of {string.Join(", ", DataSets.Names)}");
        Check(c.Model.Arch is "resnet18" or "resnet34" or "lenet5", "model.arch", $"'{c.Model.Arch}' is not resnet18, resnet34 or lenet5");
        Check(c.Optimization.Epochs > 0, "optimization.epochs", "must be > 0");
        Check(c.Optimization.BatchSize > 0, "optimization.batch_size", "must be > 0");
        Check(c.Optimization.Optimizer.Lr > 0, "optimization.optimizer.lr", "must be > 0");
        Check(c.Model.ArchConfig.NumStages is 3 or 4, "model.arch_config.num_stages", "must be 3 or 4");
        foreach (var (layer, key) in Layers(c.Model.ArchConfig))
        {
            if (layer is null)
            {
                continue;
            }
            Check(QuantScheme.TryParse(layer.XQuant, out _), $"model.arch_config.{key}.x_quant", $"'{layer.XQuant}' is not a scheme ({QuantScheme.ValidSchemesText})");
            Check(QuantScheme.TryParse(layer.WQuant, out _), $"model.arch_config.{key}.w_quant", $"'{layer.WQuant}' is not a scheme ({QuantScheme.ValidSchemesText})");
            Check(layer.MovingAverage is "off" or "eval_only" or "train_and_eval", $"model.arch_config.{key}.moving_average",
                $"'{layer.MovingAverage}' is not off, eval_only or train_and_eval");
            Check(layer.Clamp is null || layer.Clamp.Kind is "identity" || (layer.Clamp.Kind is "symmetric" && layer.Clamp.Alpha > 0),
                $"model.arch_config.{key}.clamp", "must be identity, or symmetric with alpha > 0");
        }
        try
        {
            _ = Architecture(c);
            _ = Optimizer(c);
            _ = Schedule(c);
        }
        catch (ArgumentException ex)
        {
            throw new ConfigException($"{path}: {ex.Message}", ex);
        }
    }

    private static (LayerConfig? Layer, string Key)[] Layers(ArchConfig a) =>
        [(a.Layer1, "layer1"), (a.Layer2, "layer2"), (a.Layer3, "layer3"), (a.Layer4, "layer4"), (a.Conv2, "conv2")];

    private static LayerQuantization Quantization(LayerConfig? layer) => layer is null
        ? LayerQuantization.FullPrecision
        : new LayerQuantization(QuantScheme.Parse(layer.XQuant), QuantScheme.Parse(layer.WQuant),
            layer.Clamp is { Kind: "symmetric" } clamp ? ActivationClamp.Symmetric(clamp.Alpha) : ActivationClamp.Identity,
            layer.MovingAverage switch { "eval_only" => MovingAverageMode.EvalOnly, "train_and_eval" => MovingAverageMode.TrainAndEval, _ => MovingAverageMode.Off },
            layer.Momentum);

    /// <summary>The network description (channels and classes are filled in from the data at training time).</summary>
    public static NetworkArchitecture Architecture(ExperimentConfig c)
    {
        var a = c.Model.ArchConfig;
        if (c.Model.Arch == "lenet5")
        {
            return new LeNet5Architecture { Quantization = Quantization(a.Conv2) };
        }
        int[] blocks = c.Model.Arch == "resnet34" ? [3, 4, 6, 3] : [2, 2, 2, 2];
        var stages = Layers(a).Take(a.NumStages).Select(l => Quantization(l.Layer)).ToArray();
        bool allFp = stages.All(q => !q.ActivationScheme.IsQuantized && !q.WeightScheme.IsQuantized);
        return new QResNetArchitecture
        {
            Stem = a.Stem switch { "cifar" => StemKind.Cifar, "imagenet" => StemKind.ImageNet, _ => throw new ArgumentException($"model.arch_config.stem: '{a.Stem}' is not cifar or imagenet") },
            Width = a.Width,
            BlocksPerStage = blocks[..a.NumStages],
            Block = a.Block switch { null => allFp ? BlockKind.Regular : BlockKind.Xnor, "regular" => BlockKind.Regular, "xnor" => BlockKind.Xnor, _ => throw new ArgumentException($"model.arch_config.block: '{a.Block}' is not regular or xnor") },
            DoubleShortcut = a.DoubleShortcut,
            Nonlinearity = a.Nonlin switch { "relu" => Nonlinearity.ReLU, "prelu" => Nonlinearity.PReLU, "identity" => Nonlinearity.Identity, _ => throw new ArgumentException($"model.arch_config.nonlin: '{a.Nonlin}' is not relu, prelu or identity") },
            StageQuantization = stages,
        };
    }

    public static OptimizerKind Optimizer(ExperimentConfig c) => c.Optimization.Optimizer.Algorithm switch
    {
        "sgd" => OptimizerKind.Sgd,
        "adam" => OptimizerKind.Adam,
        "adamw" => OptimizerKind.AdamW,
        "adadelta" => OptimizerKind.Adadelta,
        var other => throw new ArgumentException($"optimization.optimizer.algorithm: '{other}' is not sgd, adam, adamw or adadelta"),
    };

    public static LearningRateSchedule Schedule(ExperimentConfig c)
    {
        var s = c.Optimization.LrScheduler;
        if (s is null)
        {
            return Defaults.Schedule(c.Optimization.Epochs);
        }
        var kind = s.Type switch
        {
            "constant" => ScheduleKind.Constant,
            "step" => ScheduleKind.Step,
            "multistep" => ScheduleKind.MultiStep,
            "cosine" => ScheduleKind.Cosine,
            var other => throw new ArgumentException($"optimization.lr_scheduler.type: '{other}' is not constant, step, multistep or cosine"),
        };
        var schedule = new LearningRateSchedule { Kind = kind, Gamma = s.Gamma, StepEpochs = s.StepSize, Milestones = s.Milestones, WarmupEpochs = s.WarmupEpochs };
        try
        {
            schedule.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ArgumentException($"optimization.lr_scheduler: {ex.Message}", ex);
        }
        return schedule;
    }
}
