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

        // The binary engine (the default) and the float path give the same bits: the float path scores the layers the
        // engine supports plane by plane in the engine's arithmetic (docs/inference.md). Every quantized layer of
        // this width-8 net is put on the engine for the comparison.
        var resnet = ((TransformerChain<LsQuantResNetTransformer>)model).LastTransformer;
        float[][] engine, floatPath;
        using (ProcessSwitches.BinaryEngineEverywhere())
        {
            resnet.UseBinaryEngine = true;
            engine = model.Transform(test).GetColumn<float[]>("Score").ToArray();
            resnet.UseBinaryEngine = false;
            floatPath = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        }
        var (labels, largest) = Compare(engine, floatPath);
        TestContext.WriteLine($"engine vs float path: {labels} of {engine.Length} labels differ; largest score difference {largest:E2}");
        Assert.AreEqual(0, labels, "labels that differ");
        Assert.AreEqual(0.0, largest, "the largest score difference");

        // The float convolution of reconstructed tensors, as training computes, rounds differently, and a rounding
        // can flip a later sign decision where a residual is within rounding of zero: close, not equal.
        float[][] trained;
        using (ProcessSwitches.BinaryEngineNowhere())
        {
            resnet.UseBinaryEngine = false;
            trained = model.Transform(test).GetColumn<float[]>("Score").ToArray();
        }
        var (trainedLabels, trainedLargest) = Compare(engine, trained);
        TestContext.WriteLine($"engine vs training's arithmetic: {trainedLabels} labels differ; largest score difference {trainedLargest:E2}");
        Assert.IsLessThanOrEqualTo(engine.Length / 100, trainedLabels, "labels that differ from training's arithmetic");
    }

    private static (int Labels, double Largest) Compare(float[][] a, float[][] b)
    {
        int labels = a.Zip(b).Count(p => Array.IndexOf(p.First, p.First.Max()) != Array.IndexOf(p.Second, p.Second.Max()));
        double largest = a.Zip(b).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs((double)q.First - q.Second)));
        return (labels, largest);
    }
}
