using System;

namespace ML.LeastSquaresQuant.Training;

/// <summary>Metrics of one finished epoch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss (KD loss when distilling).</param>
/// <param name="TrainTop1">Training top-1 accuracy in [0, 1] (on augmented batches, in training mode).</param>
/// <param name="TrainTop5">Training top-5 accuracy in [0, 1].</param>
/// <param name="ValidationLoss">Validation cross-entropy, or <see langword="null"/> without validation data.</param>
/// <param name="ValidationTop1">Validation top-1 accuracy.</param>
/// <param name="ValidationTop5">Validation top-5 accuracy.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Seconds">Wall time of the epoch's training part.</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
public sealed record EpochMetrics(
    int Epoch, double TrainLoss, double TrainTop1, double TrainTop5,
    double? ValidationLoss, double? ValidationTop1, double? ValidationTop5,
    double LearningRate, double Seconds, double ImagesPerSecond);

/// <summary>A progress report, every <see cref="TrainingOptions.LogEveryNSteps"/> batches and at the end of every epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">1-based batch within the epoch.</param>
/// <param name="StepsPerEpoch">Batches per epoch.</param>
/// <param name="Loss">Loss of the latest batch.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="ImagesPerSecond">Throughput since the epoch started.</param>
/// <param name="Remaining">Estimated time to the end of training.</param>
/// <param name="EpochMetrics">Set on the end-of-epoch report.</param>
public sealed record TrainingProgress(
    int Epoch, int Step, int StepsPerEpoch, double Loss, double LearningRate, double ImagesPerSecond, TimeSpan Remaining,
    EpochMetrics? EpochMetrics);

/// <summary>Whether the frozen teacher's batch-norm layers use running statistics (eval) or batch statistics.</summary>
public enum TeacherBatchNormMode
{
    /// <summary>The teacher runs in evaluation mode (default).</summary>
    Eval = 0,

    /// <summary>The teacher runs in training mode under no_grad: its batch norms use batch statistics (and, as in PyTorch, update their running statistics).</summary>
    BatchStatistics = 1,
}
