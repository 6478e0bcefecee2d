using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
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
public sealed class LsQuantResNetTrainerTests
{
    private static string _root = "";
    private static List<PngClassFolders.ImageRow> _rows = [];

    public TestContext TestContext { get; set; } = null!;

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public string PredictedLabel { get; set; } = "";
    }

    [ClassInitialize]
    public static void WriteImages(TestContext context)
    {
        _root = Path.Combine(Path.GetTempPath(), "lsq-images-" + Guid.NewGuid().ToString("N"));
        _rows = PngClassFolders.Write(_root, perClass: 16, size: 16, seed: 3);
    }

    [ClassCleanup]
    public static void DeleteImages() => Directory.Delete(_root, recursive: true);

    private static LsQuantResNetTrainer.Options Small(string activation = "ls-2", string weight = "ls-1", int epochs = 12,
        ITransformer? teacher = null) => new()
    {
        Teacher = teacher,
        ActivationScheme = activation,
        WeightScheme = weight,
        Width = 4,
        UseFourthStage = false,
        Epochs = epochs,
        BatchSize = 16,
        LearningRate = 5e-3,
        CropPadding = 0,
        LogEveryNSteps = 2,
    };

    private static IEstimator<ITransformer> Pipeline(MLContext ml, LsQuantResNetTrainer.Options options) =>
        ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", _root, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", 16, 16))
            .Append(ml.Transforms.ExtractPixels("Features", "Image"))
            .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    private static string TempModel() => Path.Combine(Path.GetTempPath(), $"lsq-model-{Guid.NewGuid():N}.zip");

    [TestMethod]
    public void TestImagePipelineFitsEvaluatesSavesLoadsAndPredicts()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("LsQuantResNet", StringComparison.Ordinal)) { lock (messages) { messages.Add(e.Message); } } };
        var data = ml.Data.LoadFromEnumerable(_rows);
        var model = Pipeline(ml, Small()).Fit(data);
        var scored = model.Transform(data);

        var metrics = ml.MulticlassClassification.Evaluate(scored, "Label", "Score", "PredictedLabel", topKPredictionCount: 2);
        TestContext.WriteLine($"accuracy {metrics.MicroAccuracy:P1}, top-2 {metrics.TopKAccuracy:P1}, log-loss {metrics.LogLoss:F3}");
        Assert.IsGreaterThanOrEqualTo(0.9, metrics.MicroAccuracy);
        Assert.IsGreaterThanOrEqualTo(metrics.MicroAccuracy, metrics.TopKAccuracy);
        Assert.HasCount(2, metrics.TopKAccuracyForAllK);

        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        CollectionAssert.IsSubsetOf(predicted.Distinct().ToArray(), PngClassFolders.Classes, "MapKeyToValue gives the original label strings");
        var slotNames = default(VBuffer<ReadOnlyMemory<char>>);
        scored.Schema["Score"].GetSlotNames(ref slotNames);
        CollectionAssert.AreEquivalent(PngClassFolders.Classes, slotNames.DenseValues().Select(v => v.ToString()).ToArray());

        Assert.IsTrue(messages.Any(m => m.Contains("Epoch 12/12: loss", StringComparison.Ordinal)), "progress reaches MLContext.Log: " + string.Join(" | ", messages.Take(3)));
        Assert.IsTrue(messages.Any(m => m.Contains("batch", StringComparison.Ordinal) && m.Contains("images/s", StringComparison.Ordinal)));

        var resnet = ((IEnumerable<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single();
        Assert.HasCount(12, resnet.TrainingHistory);
        Assert.AreEqual("ls-2", resnet.StageQuantization[0].ActivationScheme.ToString());
        Assert.IsGreaterThan(5.0, resnet.Size.CompressionRatio, $"compression {resnet.Size.CompressionRatio:F1}");

        var scores = scored.GetColumn<float[]>("Score").ToArray();
        string path = TempModel();
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var loaded = ml.Model.Load(path, out var inputSchema);
            Assert.IsNotNull(inputSchema.GetColumnOrNull("ImagePath"));
            var loadedScores = loaded.Transform(data).GetColumn<float[]>("Score").ToArray();
            for (int i = 0; i < scores.Length; i++)
            {
                CollectionAssert.AreEqual(scores[i], loadedScores[i], $"row {i} after load");
            }
            var loadedResnet = ((IEnumerable<ITransformer>)loaded).OfType<LsQuantResNetTransformer>().Single();
            Assert.HasCount(12, loadedResnet.TrainingHistory);

            var engine = ml.Model.CreatePredictionEngine<PngClassFolders.ImageRow, Prediction>(loaded);
            var single = engine.Predict(new PngClassFolders.ImageRow { ImagePath = _rows[5].ImagePath });
            // Transform scores a block of rows in one network call, PredictionEngine one image: float32 rounding only.
            for (int c = 0; c < single.Score.Length; c++)
            {
                Assert.AreEqual(scores[5][c], single.Score[c], 1e-6 + 1e-5 * Math.Abs(scores[5][c]), $"class {c}");
            }
            Assert.AreEqual(predicted[5], single.PredictedLabel);

            // A fresh process that references only the library and ML.NET gives the same scores.
            var probe = RunProbe(path, [_rows[0].ImagePath, _rows[20].ImagePath, _rows[40].ImagePath]);
            int[] picks = [0, 20, 40];
            for (int k = 0; k < picks.Length; k++)
            {
                // The probe scores one image per call, as the PredictionEngine here does: the same bits.
                var here = engine.Predict(new PngClassFolders.ImageRow { ImagePath = _rows[picks[k]].ImagePath });
                string expected = here.PredictedLabel + " " + string.Join(" ", here.Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
                Assert.AreEqual(expected, probe[k], $"fresh process, image {picks[k]}");
            }
            // The probe never tunes the allocator itself, so this says whether loading and scoring did.
            Assert.AreEqual("allocator tuned: False", probe[picks.Length], "loading a transformer must leave the host's allocator alone");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string[] RunProbe(string modelPath, string[] images)
    {
        var result = ChildProcess.Run("ML.LeastSquaresQuant.ScoringProbe", [modelPath, .. images]);
        Assert.AreEqual(0, result.ExitCode, $"probe failed: {result.Error}");
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [TestMethod]
    public void TestDistillationFromTeacherLoadedFromFile()
    {
        var ml = new MLContext(seed: 2);
        var data = ml.Data.LoadFromEnumerable(_rows);
        var teacher = Pipeline(ml, Small("fp", "fp", epochs: 6)).Fit(data);
        string path = TempModel();
        try
        {
            ml.Model.Save(teacher, data.Schema, path);
            var loadedTeacher = ml.Model.Load(path, out _);
            var student = Pipeline(ml, Small(epochs: 8, teacher: loadedTeacher)).Fit(data);
            var metrics = ml.MulticlassClassification.Evaluate(student.Transform(data), "Label", "Score", "PredictedLabel");
            TestContext.WriteLine($"distilled student accuracy {metrics.MicroAccuracy:P1}");
            Assert.IsGreaterThanOrEqualTo(0.8, metrics.MicroAccuracy);

            var wrongClasses = ml.Data.LoadFromEnumerable(_rows.Take(32).ToList()); // two classes only
            var ex = Assert.ThrowsExactly<ArgumentException>(() => Pipeline(ml, Small(epochs: 1, teacher: loadedTeacher)).Fit(wrongClasses));
            StringAssert.Contains(ex.Message, "3 classes");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
