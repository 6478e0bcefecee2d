using System;
using System.Collections.Generic;
using System.Linq;

namespace ML.LeastSquaresQuant.Training;

/// <summary>The learning-rate schedule family.</summary>
public enum ScheduleKind
{
    /// <summary>Constant learning rate.</summary>
    Constant = 0,

    /// <summary>Multiply by <see cref="LearningRateSchedule.Gamma"/> every <see cref="LearningRateSchedule.StepEpochs"/> epochs.</summary>
    Step = 1,

    /// <summary>Multiply by <see cref="LearningRateSchedule.Gamma"/> at each of <see cref="LearningRateSchedule.Milestones"/> (epochs).</summary>
    MultiStep = 2,

    /// <summary>Cosine decay from the base rate to <see cref="LearningRateSchedule.MinimumFactor"/> × base over training.</summary>
    Cosine = 3,
}

/// <summary>
/// A learning-rate schedule stepped per batch with epoch-based milestones (milestones are scaled by the number of
/// batches per epoch), with an optional linear warm-up. A pure function of the global step, so resuming at any
/// step continues it exactly.
/// </summary>
public sealed record LearningRateSchedule
{
    /// <summary>The schedule family.</summary>
    public ScheduleKind Kind { get; init; } = ScheduleKind.Constant;

    /// <summary>Multiplicative factor for step and multi-step schedules.</summary>
    public double Gamma { get; init; } = 0.1;

    /// <summary>Step schedule: epochs between decays.</summary>
    public double StepEpochs { get; init; } = 30;

    /// <summary>Multi-step schedule: epochs (may be fractional) at which the rate is multiplied by <see cref="Gamma"/>.</summary>
    public IReadOnlyList<double> Milestones { get; init; } = [];

    /// <summary>Cosine schedule: final rate as a fraction of the base rate.</summary>
    public double MinimumFactor { get; init; }

    /// <summary>Linear warm-up from 0 over this many epochs (0 = none).</summary>
    public double WarmupEpochs { get; init; }

    /// <summary>Multi-step decay by <paramref name="gamma"/> at the given fractions of training (e.g. 0.6 and 0.85).</summary>
    /// <param name="epochs">Epochs of the whole run, which the fractions are fractions of.</param>
    /// <param name="gamma">Factor the rate is multiplied by at each milestone (0.1: a tenth).</param>
    /// <param name="fractions">Fractions of training in (0, 1).</param>
    /// <returns>The schedule.</returns>
    public static LearningRateSchedule AtFractions(int epochs, double gamma, params double[] fractions) =>
        new() { Kind = ScheduleKind.MultiStep, Gamma = gamma, Milestones = fractions.Select(f => f * epochs).ToArray() };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) { throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown schedule."); }
        if (!(Gamma > 0)) { throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "Gamma must be > 0."); }
        if (Kind == ScheduleKind.Step && !(StepEpochs > 0)) { throw new ArgumentOutOfRangeException(nameof(StepEpochs), StepEpochs, "StepEpochs must be > 0."); }
        if (!(WarmupEpochs >= 0)) { throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "WarmupEpochs must be ≥ 0."); }
        if (Milestones is null || Milestones.Any(m => !(m >= 0))) { throw new ArgumentOutOfRangeException(nameof(Milestones), "Milestones must be ≥ 0."); }
    }

    /// <summary>The factor applied to the base rate before batch <paramref name="step"/> (0-based, global).</summary>
    /// <param name="step">Batches done since the start of training (across epochs and resumes).</param>
    /// <param name="stepsPerEpoch">Batches in one epoch, to turn epoch milestones into batches.</param>
    /// <param name="totalEpochs">Epochs of the whole run (for the cosine schedule).</param>
    /// <returns>The multiple of the base learning rate to use for that batch.</returns>
    public double FactorAt(long step, long stepsPerEpoch, int totalEpochs)
    {
        double factor = Kind switch
        {
            ScheduleKind.Step => Math.Pow(Gamma, Math.Floor(step / (StepEpochs * stepsPerEpoch) + 1e-12)),
            ScheduleKind.MultiStep => Math.Pow(Gamma, Milestones.Count(m => step >= (long)Math.Round(m * stepsPerEpoch))),
            ScheduleKind.Cosine => MinimumFactor + (1 - MinimumFactor) * 0.5 *
                (1 + Math.Cos(Math.PI * Math.Min(1.0, step / (double)Math.Max(1, totalEpochs * stepsPerEpoch)))),
            _ => 1.0,
        };
        double warmupSteps = WarmupEpochs * stepsPerEpoch;
        if (warmupSteps > 0 && step < warmupSteps)
        {
            factor *= (step + 1) / warmupSteps;
        }
        return factor;
    }
}
