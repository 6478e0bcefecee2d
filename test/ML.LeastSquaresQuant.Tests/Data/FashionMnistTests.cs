using System.IO;
using System.Linq;
using Microsoft.ML;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.MLNet;
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
    }
}
