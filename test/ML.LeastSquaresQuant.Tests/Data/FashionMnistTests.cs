using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Data;

/// <summary>End to end on real data: a slice of Fashion-MNIST (installed by build/setup.sh).</summary>
[TestClass]
[DoNotParallelize]
public sealed class FashionMnistTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void TestQuantizedStudentLearnsARealSlice()
    {
        var files = FashionMnist.Files();
        Assert.IsTrue(File.Exists(files.TrainImages), $"{files.TrainImages} is missing: run build/setup.sh (it installs dataset-fashion-mnist)");
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadFromIdx(files.TrainImages, files.TrainLabels, FashionMnist.ClassNames), 3000);
        var test = ml.Data.TakeRows(ml.Data.LoadFromIdx(files.TestImages, files.TestLabels, FashionMnist.ClassNames), 1000);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(new LsQuantResNetTrainer.Options
            {
                ActivationScheme = "ls-2", WeightScheme = "ls-1", Width = 8, UseFourthStage = false,
                Epochs = 4, BatchSize = 64, LearningRate = 3e-3, CropPadding = 0, HorizontalFlip = true,
            }));
        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), topKPredictionCount: 5);
        TestContext.WriteLine($"Fashion-MNIST slice (3000 train / 1000 test), ls-2/ls-1 width 8, 4 epochs: top-1 {metrics.MicroAccuracy:P1}, top-5 {metrics.TopKAccuracy:P1}");
        Assert.IsGreaterThanOrEqualTo(0.70, metrics.MicroAccuracy);
        Assert.IsGreaterThanOrEqualTo(0.95, metrics.TopKAccuracy);

        // The binary engine (the default) and the float path compute the same function up to float32 rounding of
        // the convolution sums; a rounding difference can flip a later layer's sign decision where an activation's
        // residual is within rounding of zero, so a few scores move by more than rounding (docs/inference.md).
        var resnet = ((TransformerChain<LsQuantResNetTransformer>)model).LastTransformer;
        using (ProcessSwitches.BinaryEngineEverywhere())
        {
            resnet.UseBinaryEngine = true; // chosen again with the switch on: every quantized layer of this width-8 net
        }
        var engine = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        resnet.UseBinaryEngine = false;
        var simulated = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        int labels = engine.Zip(simulated).Count(p => Array.IndexOf(p.First, p.First.Max()) != Array.IndexOf(p.Second, p.Second.Max()));
        var diffs = engine.Zip(simulated).Select(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second))).ToArray();
        int within = diffs.Count(d => d <= 1e-4);
        TestContext.WriteLine($"engine vs float path: {labels} of {engine.Length} labels differ; {within} images within 1e-4; " +
            $"largest score difference {diffs.Max():E2}, median {diffs.Order().ElementAt(diffs.Length / 2):E2}");
        Assert.IsLessThanOrEqualTo(engine.Length / 100, labels, "labels that differ");
        Assert.IsGreaterThanOrEqualTo(engine.Length * 97 / 100, within, "images whose scores agree within 1e-4");
    }
}
