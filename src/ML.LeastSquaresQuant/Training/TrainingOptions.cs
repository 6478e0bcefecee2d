using System;
using System.Threading;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>Everything the training loop needs besides the model and the data. Defaults come from <see cref="Defaults"/>.</summary>
public sealed record TrainingOptions
{
    /// <summary>Epochs to train (in total, counting epochs done before a resume).</summary>
    public int Epochs { get; init; } = Defaults.Epochs;

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;

    /// <summary>Optimizer family and its settings (learning rate, momentum, weight decay).</summary>
    public OptimizerSettings Optimizer { get; init; } = new();

    /// <summary>
    /// The learning-rate schedule (stepped per batch). Unless set, <see cref="Defaults.Schedule"/> of
    /// <see cref="Epochs"/>, worked out on reading so that it follows a changed epoch count.
    /// </summary>
    public LearningRateSchedule Schedule { get => schedule ?? Defaults.Schedule(Epochs); init => schedule = value; }

    private readonly LearningRateSchedule? schedule;

    /// <summary>Seed for shuffling and augmentation (the model's initialization is seeded by whoever builds it).</summary>
    public long Seed { get; init; } = 1;

    /// <summary><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, or <see langword="null"/> for CUDA when available else CPU.</summary>
    public string? Device { get; init; }

    /// <summary>When CUDA is requested but unavailable: use the CPU (true) or throw (false).</summary>
    public bool FallbackToCpu { get; init; } = true;

    /// <summary>Augmentation and normalization.</summary>
    public AugmentationOptions Augmentation { get; init; } = new();

    /// <summary>A frozen, trained teacher to distil from (any network of this library), or <see langword="null"/>.</summary>
    public nn.Module<Tensor, Tensor>? Teacher { get; init; }

    /// <summary>KD softmax temperature T (higher: softer teacher targets).</summary>
    public double DistillationTemperature { get; init; } = Defaults.DistillationTemperature;

    /// <summary>Use cross-entropy for samples the teacher gets wrong (as the paper intends).</summary>
    public bool TeacherCorrection { get; init; } = Defaults.TeacherCorrection;

    /// <summary>The teacher's batch-norm mode.</summary>
    public TeacherBatchNormMode TeacherBatchNorm { get; init; } = TeacherBatchNormMode.Eval;

    /// <summary>Folder for checkpoints, or <see langword="null"/> for none.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Save a checkpoint every N epochs (and always after the last one).</summary>
    public int CheckpointEveryEpochs { get; init; } = 1;

    /// <summary>A checkpoint file to resume from, or <see langword="null"/>.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Report progress (and read the loss, a host synchronisation) every N batches.</summary>
    public int LogEveryNSteps { get; init; } = Defaults.LogEveryNSteps;

    /// <summary>Called with progress reports.</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    /// <summary>Cancels training between batches.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Epochs, nameof(Epochs));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(BatchSize, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(CheckpointEveryEpochs, nameof(CheckpointEveryEpochs));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(LogEveryNSteps, nameof(LogEveryNSteps));
        ArgumentNullException.ThrowIfNull(Optimizer, nameof(Optimizer));
        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        ArgumentNullException.ThrowIfNull(Augmentation, nameof(Augmentation));
        Optimizer.Validate();
        Schedule.Validate();
        if (!(DistillationTemperature > 0) || !double.IsFinite(DistillationTemperature))
        {
            throw new ArgumentOutOfRangeException(nameof(DistillationTemperature), DistillationTemperature, "The temperature must be finite and > 0.");
        }
    }
}
