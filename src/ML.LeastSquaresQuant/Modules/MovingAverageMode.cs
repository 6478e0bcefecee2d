namespace ML.LeastSquaresQuant.Modules;

/// <summary>How an <see cref="ActivationQuantizer"/> uses moving averages of its per-sample scalars.</summary>
public enum MovingAverageMode
{
    /// <summary>No averages: scalars are computed per sample in training and evaluation (dynamic).</summary>
    Off = 0,

    /// <summary>Track averages while training with per-sample scalars; evaluate with the averages.</summary>
    EvalOnly = 1,

    /// <summary>Track averages and use them in training and evaluation.</summary>
    TrainAndEval = 2,
}
