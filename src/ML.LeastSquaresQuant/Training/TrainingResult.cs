using System.Collections.Generic;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>What a training run produced besides the trained weights (which stay in the model).</summary>
/// <param name="History">Metrics per epoch, including epochs restored from a checkpoint.</param>
/// <param name="Device">The device training ran on.</param>
/// <param name="CheckpointPath">The latest checkpoint written, or <see langword="null"/>.</param>
public sealed record TrainingResult(IReadOnlyList<EpochMetrics> History, Device Device, string? CheckpointPath);
