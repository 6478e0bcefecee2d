using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

[TestClass]
[DoNotParallelize]
public sealed class LsQuantResNetBadInputTests
{
    private sealed class ImageRow
    {
        [VectorType(1, 8, 8)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class FlatRow
    {
        [VectorType(64)]
        public float[] Pixels { get; set; } = [];

        public string Label { get; set; } = "";

        public float Number { get; set; }
    }

    private static ImageRow[] Images(int classes, int count = 12) =>
        Enumerable.Range(0, count).Select(i => new ImageRow
        {
            Features = Enumerable.Range(0, 64).Select(j => (float)((i % classes) * 60 + (j % 8) * 3 + i % 5)).ToArray(),
            Label = "c" + (i % classes),
        }).ToArray();

    private static LsQuantResNetTrainer.Options Tiny() => new() { Width = 2, UseFourthStage = false, Epochs = 1, BatchSize = 4, CropPadding = 0 };

    private static IEstimator<ITransformer> Pipeline(MLContext ml, LsQuantResNetTrainer.Options options) =>
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options));

    [TestMethod]
    public void TestMissingOrMistypedFeaturesAndNonKeyLabel()
    {
        var ml = new MLContext(seed: 1);
        var flat = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new FlatRow { Pixels = new float[64], Label = "a" + (i % 2) }).ToArray());

        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Pipeline(ml, Tiny()).Fit(flat));
        StringAssert.Contains(missing.Message, "'Features'");

        var mistyped = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Pipeline(ml, new LsQuantResNetTrainer.Options { FeatureColumnName = "Number" }).Fit(flat));
        StringAssert.Contains(mistyped.Message, "'Number'");

        var unknownShape = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Pipeline(ml, new LsQuantResNetTrainer.Options { FeatureColumnName = "Pixels" }).Fit(flat));
        StringAssert.Contains(unknownShape.Message, "unknown image shape");

        var wrongShape = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Pipeline(ml, new LsQuantResNetTrainer.Options
        {
            FeatureColumnName = "Pixels", ImageChannels = 3, ImageHeight = 8, ImageWidth = 8,
        }).Fit(flat));
        StringAssert.Contains(wrongShape.Message, "needs 192");

        var notKey = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.LsQuantResNet(new LsQuantResNetTrainer.Options { LabelColumnName = "Number", FeatureColumnName = "Pixels", ImageChannels = 1, ImageHeight = 8, ImageWidth = 8 })
                .Fit(flat));
        StringAssert.Contains(notKey.Message, "key type");

        var schemaShape = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.LsQuantResNet().GetOutputSchema(SchemaShapes.Of(flat.Schema)));
        StringAssert.Contains(schemaShape.Message, "'Features'");
    }

    [TestMethod]
    public void TestFlatFeaturesWithImageOptionsTrain()
    {
        var ml = new MLContext(seed: 1);
        var rows = Images(2).Select(r => new FlatRow { Pixels = r.Features, Label = r.Label }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = Tiny();
        options.FeatureColumnName = "Pixels";
        options.ImageChannels = 1;
        options.ImageHeight = 8;
        options.ImageWidth = 8;
        var model = Pipeline(ml, options).Fit(data);
        Assert.AreEqual(12, model.Transform(data).GetColumn<float[]>("Score").Count());
    }

    [TestMethod]
    public void TestUnknownSchemeAndBadOptions()
    {
        var ml = new MLContext(seed: 1);
        var scheme = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.LsQuantResNet(activationScheme: "ls-3"));
        StringAssert.Contains(scheme.Message, "ls-3");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.LsQuantResNet(new LsQuantResNetTrainer.Options { Depth = 50 }));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.LsQuantResNet(new LsQuantResNetTrainer.Options { Epochs = 0 }));
        var stages = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.LsQuantResNet(
            new LsQuantResNetTrainer.Options { StageActivationSchemes = ["ls-2", "ls-1"] }));
        StringAssert.Contains(stages.Message, "one scheme per stage");
    }

    [TestMethod]
    public void TestEstimatorSchemaMatchesTransformerSchema()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Images(3));
        var pipeline = Pipeline(ml, Tiny());
        var shape = pipeline.GetOutputSchema(SchemaShapes.Of(data.Schema));
        var model = pipeline.Fit(data);
        var schema = model.GetOutputSchema(data.Schema);
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            var expected = SchemaShapes.Find(shape, name);
            var actual = schema[name];
            var actualItem = actual.Type is VectorDataViewType v ? v.ItemType : actual.Type;
            Assert.AreEqual(expected.ItemType.RawType, actualItem.RawType, name);
            Assert.AreEqual(expected.IsKey, actual.Type is KeyDataViewType, name);
        }
        Assert.AreEqual(3, ((VectorDataViewType)schema["Score"].Type).Size);
        Assert.AreEqual(3UL, ((KeyDataViewType)schema["PredictedLabel"].Type).Count);
    }

    [TestMethod]
    public void TestTruncatedOrForeignModelFilesFail()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Images(2));
        var model = Pipeline(ml, Tiny()).Fit(data);
        string path = Path.Combine(Path.GetTempPath(), $"lsq-bad-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            var truncated = Assert.Throws<Exception>(() => ml.Model.Load(path, out _));
            Assert.IsFalse(truncated is NullReferenceException or AccessViolationException, truncated.ToString());

            File.WriteAllText(path, "this is not a model");
            var foreign = Assert.Throws<Exception>(() => ml.Model.Load(path, out _));
            Assert.IsFalse(foreign is NullReferenceException, foreign.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void TestInternalMembersWeRelyOnExist() => MLNetInternalsProbe.Verify();
}
