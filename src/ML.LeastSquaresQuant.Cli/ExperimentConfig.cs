using System.Collections.Generic;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.Cli;

// The YAML schema (snake_case keys). Sections mirror the reference's configs: data, model.arch_config (per-layer
// x_quant / w_quant / clamp), kd_config, optimization, log.

/// <summary>A whole experiment.</summary>
internal sealed class ExperimentConfig
{
    public string ExperimentName { get; set; } = "experiment";
    public int Seed { get; set; } = 1;
    public DataConfig Data { get; set; } = new();
    public ModelConfig Model { get; set; } = new();
    public KdConfig? KdConfig { get; set; }
    public OptimizationConfig Optimization { get; set; } = new();
    public LogConfig Log { get; set; } = new();
}

/// <summary>Where the images come from.</summary>
internal sealed class DataConfig
{
    /// <summary>fashion-mnist, mnist, cifar10, cifar100 or image-folder.</summary>
    public string Dataset { get; set; } = "fashion-mnist";
    /// <summary>Folder with the files (IDX, CIFAR .bin) or, for image-folder, with train/ and test/ class folders.</summary>
    public string? Path { get; set; }
    public int? TrainLimit { get; set; }
    public int? TestLimit { get; set; }
    /// <summary>image-folder: images are resized to this square size.</summary>
    public int ImageSize { get; set; } = 32;
    /// <summary>image-folder: 1 (grey) or 3 (RGB).</summary>
    public int Channels { get; set; } = 3;
    public bool CoarseLabels { get; set; }
    public int CropPadding { get; set; }
    public bool HorizontalFlip { get; set; }
    public List<double>? Mean { get; set; }
    public List<double>? Std { get; set; }
}

/// <summary>The network.</summary>
internal sealed class ModelConfig
{
    /// <summary>resnet18, resnet34 or lenet5.</summary>
    public string Arch { get; set; } = "resnet18";
    public ArchConfig ArchConfig { get; set; } = new();
}

/// <summary>Architecture settings; layer1..layer4 for ResNets, conv2 for LeNet-5.</summary>
internal sealed class ArchConfig
{
    /// <summary>cifar or imagenet.</summary>
    public string Stem { get; set; } = "cifar";
    public int Width { get; set; } = 64;
    public int NumStages { get; set; } = 4;
    /// <summary>regular or xnor; by default regular when everything is fp, else xnor.</summary>
    public string? Block { get; set; }
    public bool DoubleShortcut { get; set; } = true;
    /// <summary>relu, prelu or identity.</summary>
    public string Nonlin { get; set; } = "relu";
    public LayerConfig? Layer1 { get; set; }
    public LayerConfig? Layer2 { get; set; }
    public LayerConfig? Layer3 { get; set; }
    public LayerConfig? Layer4 { get; set; }
    public LayerConfig? Conv2 { get; set; }
}

/// <summary>One stage's quantization.</summary>
internal sealed class LayerConfig
{
    public string XQuant { get; set; } = "fp";
    public string WQuant { get; set; } = "fp";
    public ClampConfig? Clamp { get; set; }
    /// <summary>off, eval_only or train_and_eval.</summary>
    public string MovingAverage { get; set; } = "off";
    public double Momentum { get; set; } = 0.99;
}

/// <summary>The clamp before the activation quantizer.</summary>
internal sealed class ClampConfig
{
    /// <summary>symmetric or identity.</summary>
    public string Kind { get; set; } = "symmetric";
    public double Alpha { get; set; } = Defaults.ClampAlpha;
}

/// <summary>Knowledge distillation.</summary>
internal sealed class KdConfig
{
    /// <summary>A teacher: an experiment folder (its model.zip) or an ML.NET model file.</summary>
    public string Teacher { get; set; } = "";
    public double Temperature { get; set; } = Defaults.DistillationTemperature;
    public bool TeacherCorrection { get; set; } = Defaults.TeacherCorrection;
}

/// <summary>Training.</summary>
internal sealed class OptimizationConfig
{
    public int Epochs { get; set; } = Defaults.Epochs;
    public int BatchSize { get; set; } = Defaults.BatchSize;
    public OptimizerConfig Optimizer { get; set; } = new();
    /// <summary>Absent: Defaults.Schedule of the epochs (×0.1 at 60 % and 85 %), as in the library.</summary>
    public SchedulerConfig? LrScheduler { get; set; }
}

/// <summary>The optimizer.</summary>
internal sealed class OptimizerConfig
{
    /// <summary>sgd, adam, adamw or adadelta.</summary>
    public string Algorithm { get; set; } = "adam";
    public double Lr { get; set; } = Defaults.LearningRate;
    public double Momentum { get; set; } = 0.9;
    public bool Nesterov { get; set; } = true;
    public double WeightDecay { get; set; }
}

/// <summary>The learning-rate schedule (stepped per batch, epoch milestones).</summary>
internal sealed class SchedulerConfig
{
    /// <summary>constant, step, multistep or cosine.</summary>
    public string Type { get; set; } = "multistep";
    /// <summary>multistep: epochs at which the rate is multiplied by gamma.</summary>
    public List<double> Milestones { get; set; } = [];
    public double Gamma { get; set; } = 0.1;
    /// <summary>step: epochs between decays.</summary>
    public double StepSize { get; set; } = 30;
    public double WarmupEpochs { get; set; }
}

/// <summary>Outputs.</summary>
internal sealed class LogConfig
{
    /// <summary>Experiments are written to {folder}/{experiment_name}.</summary>
    public string Folder { get; set; } = "experiments";
    public int SaveCheckpointEvery { get; set; } = 1;
    public int LogEvery { get; set; } = Defaults.LogEveryNSteps;
    /// <summary>cpu, cuda, cuda:N or auto.</summary>
    public string Device { get; set; } = "auto";
}
