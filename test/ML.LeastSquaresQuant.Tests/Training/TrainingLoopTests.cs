using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Training;

[TestClass]
[DoNotParallelize]
public sealed class TrainingLoopTests
{
    public TestContext TestContext { get; set; } = null!;

    private static QResNetArchitecture Small(int classes, int channels, LayerQuantization? quantization) =>
        QResNetArchitecture.ResNet18(classes, channels, quantization, width: 8) with { BlocksPerStage = [1, 1, 1, 1] };

    private static TrainingOptions Fast(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 16,
        Device = "cpu",
        Optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 3e-3 },
        LogEveryNSteps = 1000,
    };

    [TestMethod]
    [DataRow("fp", "fp")]
    [DataRow("ls-1", "ls-1")]
    [DataRow("ls-2", "ls-1")]
    public void TestSmallNetworkOverfitsSyntheticImages(string activation, string weight)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var quant = activation == "fp" ? null : new LayerQuantization(
            ML.LeastSquaresQuant.Quantization.QuantScheme.Parse(activation),
            ML.LeastSquaresQuant.Quantization.QuantScheme.Parse(weight), ActivationClamp.Symmetric(2));
        var model = Small(4, 3, quant).Build();
        using var data = SyntheticImages.Make(64, 4, 3, 16, seed: 2);
        var clock = Stopwatch.StartNew();
        var result = TrainingLoop.Run(model, data, null, Fast(25));
        var (_, top1, _) = TrainingLoop.Evaluate(model, data, new AugmentationOptions(), 64);
        TestContext.WriteLine($"{activation}/{weight}: train top-1 {top1:P1} in {clock.Elapsed.TotalSeconds:F1}s; last epoch loss {result.History[^1].TrainLoss:F3}");
        Assert.IsGreaterThanOrEqualTo(0.95, top1, $"{activation}/{weight} reached only {top1:P1}");
        Assert.HasCount(25, result.History);
        Assert.IsLessThan(result.History[0].TrainLoss, result.History[^1].TrainLoss);
    }

    private static Dictionary<string, Tensor> TrainedState(Func<TrainingOptions, TrainingOptions> configure, int epochs, string? resumeFrom = null)
    {
        torch.manual_seed(5);
        var model = Small(3, 1, LayerQuantization.Parse("ls-2", "ls-1", ActivationClamp.Symmetric(2))).Build();
        using var data = SyntheticImages.Make(40, 3, 1, 12, seed: 6);
        var options = configure(Fast(epochs) with
        {
            ResumeFrom = resumeFrom,
            Augmentation = new AugmentationOptions { CropPadding = 2, HorizontalFlip = true, Mean = [0.5], Std = [0.3] },
            Schedule = new LearningRateSchedule { Kind = ScheduleKind.MultiStep, Milestones = [1.5], Gamma = 0.5 },
        });
        TrainingLoop.Run(model, data, null, options);
        return model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
    }

    [TestMethod]
    public void TestResumeContinuesBitForBit()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lsq-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var straight = TrainedState(o => o, epochs: 3);
            var first = TrainedState(o => o with { CheckpointDirectory = dir }, epochs: 1);
            string checkpoint = Path.Combine(dir, Checkpoint.LatestFileName);
            Assert.IsTrue(File.Exists(checkpoint));
            Assert.IsEmpty(Directory.GetFiles(dir, "*.tmp"), "no temporary file may be left behind");
            var resumed = TrainedState(o => o, epochs: 3, resumeFrom: checkpoint);

            CollectionAssert.AreEquivalent(straight.Keys.ToArray(), resumed.Keys.ToArray());
            foreach (var (name, tensor) in straight)
            {
                Assert.IsTrue(tensor.BitEqual(resumed[name]), $"{name} differs after resume");
            }
            Assert.IsFalse(straight.Where(kv => kv.Value.is_floating_point()).All(kv => kv.Value.BitEqual(first[kv.Key])),
                "one epoch must differ from three, or the comparison proves nothing");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void TestDamagedCheckpointIsAFormatException()
    {
        string path = Path.Combine(Path.GetTempPath(), "lsq-bad-" + Guid.NewGuid().ToString("N") + ".bin");
        File.WriteAllBytes(path, "LSQCKPT1\u0001"u8.ToArray());
        try
        {
            var ex = Assert.ThrowsExactly<FormatException>(() => TrainedState(o => o, epochs: 1, resumeFrom: path));
            StringAssert.Contains(ex.Message, path);
            File.WriteAllText(path, "something else entirely");
            ex = Assert.ThrowsExactly<FormatException>(() => TrainedState(o => o, epochs: 1, resumeFrom: path));
            StringAssert.Contains(ex.Message, "not an ML.LeastSquaresQuant checkpoint");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void TestMemoryStaysFlatOver200Steps()
    {
        torch.manual_seed(7);
        var model = Small(4, 3, LayerQuantization.Parse("ls-2", "ls-1", ActivationClamp.Symmetric(2))).Build();
        using var data = SyntheticImages.Make(64, 4, 3, 16, seed: 8);
        var samples = new List<long>();
        var process = Process.GetCurrentProcess();
        var options = Fast(52) with
        {
            LogEveryNSteps = 4, // one report per epoch of 4 batches
            Progress = p =>
            {
                if (p.EpochMetrics is null)
                {
                    process.Refresh();
                    samples.Add(process.WorkingSet64);
                }
            },
            Augmentation = new AugmentationOptions { CropPadding = 2, HorizontalFlip = true },
        };
        TrainingLoop.Run(model, data, data, options);
        Assert.HasCount(52, samples);
        // After 12 epochs (48 steps) of warm-up, 160 more steps with validation passes must not grow the process.
        long warm = samples[11];
        long peak = samples.Skip(12).Max();
        const long bound = 24L << 20;
        TestContext.WriteLine($"working set after warm-up {warm >> 20} MiB, peak later {peak >> 20} MiB");
        Assert.IsLessThan(bound, peak - warm, $"memory grew by {(peak - warm) >> 20} MiB over 160 steps");
    }

    [TestMethod]
    public void TestBadInputGivesClearExceptions()
    {
        using var scope = NewDisposeScope();
        var labelEx = Assert.ThrowsExactly<ArgumentException>(() =>
            new ImageDataset(torch.zeros(4, 1, 8, 8), torch.tensor(new long[] { 0, 1, 5, 1 }), 3));
        StringAssert.Contains(labelEx.Message, "Label 5");
        var emptyEx = Assert.ThrowsExactly<ArgumentException>(() =>
            new ImageDataset(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype: ScalarType.Int64), 3));
        StringAssert.Contains(emptyEx.Message, "empty");

        var model = Small(3, 3, null).Build();
        using var grey = SyntheticImages.Make(8, 3, 1, 16, seed: 1);
        var channelEx = Assert.ThrowsExactly<ArgumentException>(() => TrainingLoop.Run(model, grey, null, Fast(1)));
        StringAssert.Contains(channelEx.Message, "[1, 16, 16]");

        using var rgb4 = SyntheticImages.Make(8, 4, 3, 16, seed: 1);
        var classEx = Assert.ThrowsExactly<ArgumentException>(() => TrainingLoop.Run(model, rgb4, null, Fast(1)));
        StringAssert.Contains(classEx.Message, "4 classes");

        var nanImages = torch.full([8, 3, 16, 16], double.NaN);
        using var nanData = new ImageDataset(nanImages, torch.arange(8, dtype: ScalarType.Int64) % 3, 3);
        var nanEx = Assert.ThrowsExactly<InvalidOperationException>(() => TrainingLoop.Run(model, nanData, null, Fast(1)));
        StringAssert.Contains(nanEx.Message, "NaN");

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainingLoop.Run(model, rgb4, null, Fast(1) with { BatchSize = 0 }));
        var device = Assert.ThrowsExactly<InvalidOperationException>(() =>
            TrainingLoop.Run(model, rgb4, null, Fast(1) with { Device = "cuda:0", FallbackToCpu = false }));
        StringAssert.Contains(device.Message, "CUDA is not available");
    }

    [TestMethod]
    public void TestDistillationTrainsStudentAndReportsProgress()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(9);
        using var data = SyntheticImages.Make(48, 3, 1, 16, seed: 10);
        var teacher = Small(3, 1, null).Build();
        TrainingLoop.Run(teacher, data, null, Fast(8));
        var teacherBefore = teacher.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var student = Small(3, 1, LayerQuantization.Parse("ls-2", "ls-1", ActivationClamp.Symmetric(2))).Build();
        var reports = new List<TrainingProgress>();
        var result = TrainingLoop.Run(student, data, data, Fast(12) with
        {
            Teacher = teacher, LogEveryNSteps = 1, Progress = reports.Add,
        });
        Assert.IsGreaterThanOrEqualTo(0.9, result.History[^1].ValidationTop1!.Value);
        Assert.AreEqual(12, reports.Count(r => r.EpochMetrics is not null));
        Assert.AreEqual(12 * 3, reports.Count(r => r.EpochMetrics is null));
        Assert.IsTrue(reports.All(r => r.ImagesPerSecond > 0 && double.IsFinite(r.Loss)));
        foreach (var (name, tensor) in teacherBefore)
        {
            Assert.IsTrue(tensor.BitEqual(teacher.state_dict()[name]), $"the frozen teacher changed: {name}");
        }
    }
}
