using System;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>
/// Rows whose features vector has the right type but not the right number of values: before the fix, a 0-value
/// vector scored after a valid row silently got that row's scores (the pixel buffer kept its old contents).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class LsQuantResNetShortRowTests
{
    private sealed class VectorRow
    {
        [VectorType(1, 8, 8)]
        public VBuffer<float> Features { get; set; }

        public string Label { get; set; } = "c0";
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    private static readonly MLContext Ml = new(seed: 1);

    private static readonly Lazy<ITransformer> Model = new(() =>
    {
        var rows = Enumerable.Range(0, 12).Select(i => new VectorRow
        {
            Features = new VBuffer<float>(64, Enumerable.Range(0, 64).Select(j => (float)((i % 2) * 60 + (j % 8) * 3 + i % 5)).ToArray()),
            Label = "c" + (i % 2),
        }).ToArray();
        var options = new LsQuantResNetTrainer.Options { Width = 2, UseFourthStage = false, Epochs = 1, BatchSize = 4, CropPadding = 0 };
        return Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.MulticlassClassification.Trainers.LsQuantResNet(options))
            .Fit(Ml.Data.LoadFromEnumerable(rows));
    });

    private static VectorRow Valid() => new() { Features = new VBuffer<float>(64, Enumerable.Range(0, 64).Select(j => (float)(j % 7 * 20)).ToArray()) };

    private static string Messages(Exception ex) => ex.InnerException is null ? ex.Message : ex.Message + " | " + Messages(ex.InnerException);

    [TestMethod]
    public void TestShortRowAfterValidRowIsRefusedByPredictionEngine()
    {
        var engine = Ml.Model.CreatePredictionEngine<VectorRow, Prediction>(Model.Value);
        Assert.HasCount(2, engine.Predict(Valid()).Score);
        var error = Assert.Throws<Exception>(() => engine.Predict(new VectorRow { Features = new VBuffer<float>(0, []) }));
        StringAssert.Contains(Messages(error), "holds 0 values");
    }

    [TestMethod]
    public void TestShortRowAfterValidRowIsRefusedByTransform()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { Valid(), new VectorRow { Features = new VBuffer<float>(5, new float[5]) } });
        var error = Assert.Throws<Exception>(() => Model.Value.Transform(data).GetColumn<float[]>("Score").ToArray());
        StringAssert.Contains(Messages(error), "holds 5 values");
    }

    [TestMethod]
    public void TestSparseRowOfRightLengthScoresAsItsDenseForm()
    {
        var engine = Ml.Model.CreatePredictionEngine<VectorRow, Prediction>(Model.Value);
        var dense = new float[64];
        dense[3] = 200;
        dense[40] = 90;
        var expected = engine.Predict(new VectorRow { Features = new VBuffer<float>(64, dense) }).Score;
        engine.Predict(Valid());
        var sparse = engine.Predict(new VectorRow { Features = new VBuffer<float>(64, 2, [200f, 90f], [3, 40]) }).Score;
        CollectionAssert.AreEqual(expected, sparse);
    }
}
