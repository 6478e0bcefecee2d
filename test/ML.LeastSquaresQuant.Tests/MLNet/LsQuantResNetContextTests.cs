using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>MLContext settings (seed, GPU, cancellation) and concurrent scoring.</summary>
[TestClass]
[DoNotParallelize]
public sealed class LsQuantResNetContextTests
{
    private sealed class ImageRow
    {
        [VectorType(1, 8, 8)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(Enumerable.Range(0, 24).Select(i => new ImageRow
    {
        Features = Enumerable.Range(0, 64).Select(j => (float)((i % 3) * 50 + (j % 8) * 4 + (i * 7 + j) % 11)).ToArray(),
        Label = "c" + (i % 3),
    }).ToArray());

    private static LsQuantResNetTrainer.Options Tiny() =>
        new() { Width = 2, UseFourthStage = false, Epochs = 2, BatchSize = 8, LogEveryNSteps = 1 };

    private static float[][] FitAndScore(MLContext ml, LsQuantResNetTrainer.Options options)
    {
        var data = Data(ml);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options)).Fit(data);
        return model.Transform(data).GetColumn<float[]>("Score").ToArray();
    }

    [TestMethod]
    public void TestSameMLContextSeedGivesSameModel()
    {
        var a = FitAndScore(new MLContext(seed: 7), Tiny());
        var b = FitAndScore(new MLContext(seed: 7), Tiny());
        var c = FitAndScore(new MLContext(seed: 8), Tiny());
        Assert.IsTrue(a.Zip(b).All(p => p.First.SequenceEqual(p.Second)), "same seed, same scores");
        Assert.IsFalse(a.Zip(c).All(p => p.First.SequenceEqual(p.Second)), "another seed, other scores");
    }

    [TestMethod]
    public void TestGpuRequestWithoutCudaFailsOrFallsBack()
    {
        var strict = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => FitAndScore(strict, Tiny()));
        StringAssert.Contains(ex.Message, "CUDA");
        var lenient = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        Assert.HasCount(24, FitAndScore(lenient, Tiny()));
    }

    [TestMethod]
    public void TestCancelExecutionStopsTraining()
    {
        var ml = new MLContext(seed: 1);
        var options = Tiny();
        options.Epochs = 50;
        // MLContext.CancelExecution is internal to ML.NET (its own tools call it); reach it as they would.
        var cancel = typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)!;
        options.Progress = _ => cancel.Invoke(ml, null);
        Assert.Throws<OperationCanceledException>(() => FitAndScore(ml, options));

        using var source = new System.Threading.CancellationTokenSource();
        var withToken = Tiny();
        withToken.Epochs = 50;
        withToken.CancellationToken = source.Token;
        withToken.Progress = _ => source.Cancel();
        Assert.Throws<OperationCanceledException>(() => FitAndScore(new MLContext(seed: 1), withToken));
    }

    [TestMethod]
    public void TestConcurrentCursorsGiveTheSameScores()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LsQuantResNet(Tiny())).Fit(data);
        var scored = model.Transform(data);
        var sequential = scored.GetColumn<float[]>("Score").ToArray();
        var results = new float[4][][];
        Parallel.For(0, 4, t => results[t] = scored.GetColumn<float[]>("Score").ToArray());
        foreach (var r in results)
        {
            Assert.IsTrue(sequential.Zip(r).All(p => p.First.SequenceEqual(p.Second)));
        }
    }
}
