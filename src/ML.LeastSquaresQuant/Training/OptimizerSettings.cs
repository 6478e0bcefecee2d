using System;
using System.Collections.Generic;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>The optimizer family.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with optional momentum, Nesterov and weight decay.</summary>
    Sgd = 0,

    /// <summary>Adam.</summary>
    Adam = 1,

    /// <summary>Adam with decoupled weight decay.</summary>
    AdamW = 2,

    /// <summary>Adadelta (the MNIST recipe).</summary>
    Adadelta = 3,
}

/// <summary>Optimizer settings. Defaults: <see cref="Defaults.Optimizer"/> at <see cref="Defaults.LearningRate"/>, no weight decay.</summary>
public sealed record OptimizerSettings
{
    /// <summary>The optimizer family.</summary>
    public OptimizerKind Kind { get; init; } = Defaults.Optimizer;

    /// <summary>Base learning rate (before the schedule).</summary>
    public double LearningRate { get; init; } = Defaults.LearningRate;

    /// <summary>SGD momentum: the fraction of the previous update kept in the next.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>SGD: evaluate the gradient at the look-ahead point (Nesterov) rather than the current one.</summary>
    public bool Nesterov { get; init; } = true;

    /// <summary>Weight decay (L2 for SGD/Adam/Adadelta, decoupled for AdamW).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Adam/AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam/AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adadelta ρ.</summary>
    public double Rho { get; init; } = 0.9;

    /// <summary>The paper's teacher recipe: SGD lr 0.1, momentum 0.9, Nesterov, weight decay 5e-4.</summary>
    public static OptimizerSettings TeacherSgd { get; } = new() { Kind = OptimizerKind.Sgd, LearningRate = 0.1, WeightDecay = 5e-4 };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) { throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown optimizer."); }
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) { throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and > 0."); }
        if (!(WeightDecay >= 0)) { throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be ≥ 0."); }
        if (!(Momentum >= 0 && Momentum < 1)) { throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1)."); }
    }

    internal OptimizerHelper Create(IEnumerable<Parameter> parameters) => Kind switch
    {
        OptimizerKind.Sgd => optim.SGD(parameters, LearningRate, Momentum, 0, WeightDecay, Nesterov && Momentum > 0, false),
        OptimizerKind.Adam => optim.Adam(parameters, LearningRate, Beta1, Beta2, 1e-8, WeightDecay, false, false),
        OptimizerKind.AdamW => optim.AdamW(parameters, LearningRate, Beta1, Beta2, 1e-8, WeightDecay, false, false),
        OptimizerKind.Adadelta => optim.Adadelta(parameters, LearningRate, Rho, 1e-6, WeightDecay, false),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown optimizer."),
    };
}
