using System.Linq;
using ML.LeastSquaresQuant.Cli;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Training;

[TestClass]
public sealed class DefaultsTests
{
    [TestMethod]
    public void TestTrainingLoopOptionsUseDefaults()
    {
        var o = new TrainingOptions();
        Assert.AreEqual(Defaults.Epochs, o.Epochs);
        Assert.AreEqual(Defaults.BatchSize, o.BatchSize);
        Assert.AreEqual(Defaults.Optimizer, o.Optimizer.Kind);
        Assert.AreEqual(Defaults.LearningRate, o.Optimizer.LearningRate);
        Assert.AreEqual(Defaults.DistillationTemperature, o.DistillationTemperature);
        Assert.AreEqual(Defaults.TeacherCorrection, o.TeacherCorrection);
        Assert.AreEqual(Defaults.LogEveryNSteps, o.LogEveryNSteps);
        AssertDefaultSchedule(o.Schedule, o.Epochs);
        // The default schedule follows a changed epoch count rather than keeping the milestones of the old one.
        AssertDefaultSchedule((o with { Epochs = 7 }).Schedule, 7);
    }

    [TestMethod]
    public void TestTrainerOptionsUseDefaults()
    {
        var o = new LsQuantResNetTrainer.Options();
        Assert.AreEqual(Defaults.Epochs, o.Epochs);
        Assert.AreEqual(Defaults.BatchSize, o.BatchSize);
        Assert.AreEqual(Defaults.Optimizer, o.Optimizer);
        Assert.AreEqual(Defaults.LearningRate, o.LearningRate);
        Assert.AreEqual(Defaults.DistillationTemperature, o.DistillationTemperature);
        Assert.AreEqual(Defaults.TeacherCorrection, o.TeacherCorrection);
        Assert.AreEqual(Defaults.LogEveryNSteps, o.LogEveryNSteps);
        Assert.AreEqual(Defaults.ClampAlpha, o.ClampAlpha);
        Assert.AreEqual(Defaults.ActivationScheme, o.ActivationScheme);
        Assert.AreEqual(Defaults.WeightScheme, o.WeightScheme);
        // null means Defaults.Schedule(Epochs), applied by the trainer.
        Assert.IsNull(o.Schedule);
    }

    [TestMethod]
    public void TestCliConfigUsesDefaults()
    {
        var c = new ExperimentConfig();
        Assert.AreEqual(Defaults.Epochs, c.Optimization.Epochs);
        Assert.AreEqual(Defaults.BatchSize, c.Optimization.BatchSize);
        Assert.AreEqual(Defaults.Optimizer, ConfigLoader.Optimizer(c));
        Assert.AreEqual(Defaults.LearningRate, c.Optimization.Optimizer.Lr);
        Assert.AreEqual(Defaults.DistillationTemperature, new KdConfig().Temperature);
        Assert.AreEqual(Defaults.TeacherCorrection, new KdConfig().TeacherCorrection);
        Assert.AreEqual(Defaults.LogEveryNSteps, c.Log.LogEvery);
        Assert.AreEqual(Defaults.ClampAlpha, new ClampConfig().Alpha);
        AssertDefaultSchedule(ConfigLoader.Schedule(c), c.Optimization.Epochs);
    }

    private static void AssertDefaultSchedule(LearningRateSchedule schedule, int epochs)
    {
        Assert.AreEqual(ScheduleKind.MultiStep, schedule.Kind);
        Assert.AreEqual(Defaults.ScheduleGamma, schedule.Gamma);
        CollectionAssert.AreEqual(Defaults.ScheduleFractions.Select(f => f * epochs).ToArray(), schedule.Milestones.ToArray());
    }
}
