using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// Model-file fixtures: <c>make-fixture DIR</c> trains a tiny ls-2/ls-1 model on deterministic rows, saves it as
/// DIR/model.zip and writes the scores of <see cref="Rows"/> to DIR/scores.txt, one row per line (round-trip floats).
/// The test suite keeps such a pair from each model format version and checks that today's code still loads and
/// scores it exactly.
/// </summary>
public static class Fixtures
{
    public const int Channels = 3, Size = 12, Classes = 4;

    /// <summary>An input row: a label and flattened CHW pixels in [0, 255].</summary>
    public sealed class Row
    {
        public uint Label { get; set; }

        [VectorType(Channels * Size * Size)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>The columns read back.</summary>
    public sealed class Scores
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>Deterministic rows: class c has a bright stripe at rows 3c..3c+2 over a pseudo-random texture.</summary>
    public static Row[] Rows(int count) => Enumerable.Range(0, count).Select(i =>
    {
        int label = i % Classes;
        var pixels = new float[Channels * Size * Size];
        for (int p = 0; p < pixels.Length; p++)
        {
            int y = p / Size % Size;
            float texture = (p * 7919 + i * 104729) % 97;
            pixels[p] = y / 3 == label ? 200 + texture / 2 : texture;
        }
        return new Row { Label = (uint)label, Features = pixels };
    }).ToArray();

    public static int Make(string dir)
    {
        Directory.CreateDirectory(dir);
        var ml = new MLContext(seed: 5);
        var data = ml.Data.LoadFromEnumerable(Rows(48));
        var options = new LsQuantResNetTrainer.Options
        {
            ActivationScheme = "ls-2", WeightScheme = "ls-1", Width = 8, UseFourthStage = false, Epochs = 3, BatchSize = 16,
            LearningRate = 5e-3, CropPadding = 0, ImageChannels = Channels, ImageHeight = Size, ImageWidth = Size,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options)).Fit(data);
        string path = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        return WriteScores(ml, ml.Model.Load(path, out _), Path.Combine(dir, "scores.txt"));
    }

    /// <summary>Scores the first eight <see cref="Rows"/> and writes them, one line each.</summary>
    public static int WriteScores(MLContext ml, ITransformer model, string path)
    {
        var scored = model.Transform(ml.Data.LoadFromEnumerable(Rows(8)));
        var lines = ml.Data.CreateEnumerable<Scores>(scored, reuseRowObject: false)
            .Select(s => string.Join(' ', s.Score.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        File.WriteAllLines(path, lines);
        return 0;
    }
}
