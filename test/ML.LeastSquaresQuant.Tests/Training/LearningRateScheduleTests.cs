using System;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Training;

[TestClass]
public sealed class LearningRateScheduleTests
{
    [TestMethod]
    public void TestMultiStepMilestonesAreScaledByBatchesPerEpoch()
    {
        // The student recipe: ×0.1 at epochs 150, 250, 320; 391 batches per epoch (CIFAR, batch 128).
        var schedule = new LearningRateSchedule { Kind = ScheduleKind.MultiStep, Gamma = 0.1, Milestones = [150, 250, 320] };
        Assert.AreEqual(1.0, schedule.FactorAt(150 * 391 - 1, 391, 350), 1e-15);
        Assert.AreEqual(0.1, schedule.FactorAt(150 * 391, 391, 350), 1e-15);
        Assert.AreEqual(0.01, schedule.FactorAt(250 * 391, 391, 350), 1e-15);
        Assert.AreEqual(0.001, schedule.FactorAt(320 * 391 + 5, 391, 350), 1e-15);
        var fractions = LearningRateSchedule.AtFractions(10, 0.1, 0.6, 0.85);
        Assert.AreEqual(1.0, fractions.FactorAt(5 * 100 + 99, 100, 10), 1e-15);
        Assert.AreEqual(0.1, fractions.FactorAt(600, 100, 10), 1e-15);
        Assert.AreEqual(0.01, fractions.FactorAt(850, 100, 10), 1e-15);
    }

    [TestMethod]
    public void TestStepCosineAndWarmup()
    {
        var step = new LearningRateSchedule { Kind = ScheduleKind.Step, Gamma = 0.2, StepEpochs = 60 };
        Assert.AreEqual(1.0, step.FactorAt(59 * 10 + 9, 10, 200), 1e-15);
        Assert.AreEqual(0.2, step.FactorAt(600, 10, 200), 1e-15);
        Assert.AreEqual(0.04, step.FactorAt(1200, 10, 200), 1e-15);

        var cosine = new LearningRateSchedule { Kind = ScheduleKind.Cosine };
        Assert.AreEqual(1.0, cosine.FactorAt(0, 10, 10), 1e-15);
        Assert.AreEqual(0.5, cosine.FactorAt(50, 10, 10), 1e-12);
        Assert.AreEqual(0.0, cosine.FactorAt(100, 10, 10), 1e-15);

        var warm = new LearningRateSchedule { WarmupEpochs = 2 };
        Assert.AreEqual(0.05, warm.FactorAt(0, 10, 5), 1e-15);
        Assert.AreEqual(1.0, warm.FactorAt(19, 10, 5), 1e-15);
        Assert.AreEqual(1.0, warm.FactorAt(20, 10, 5), 1e-15);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new LearningRateSchedule { Gamma = 0 }.Validate());
    }
}
