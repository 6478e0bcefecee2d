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

/// <summary><c>model-size WIDTH STAGES CHANNELS SIZE CLASSES DIR</c>: trains one short epoch of an ls-2/ls-1 student,
/// saves it and prints the sizes that docs/model-format.md reports.</summary>
public static class ModelSizes
{
    public static int Measure(int width, int stages, int channels, int size, int classes, string dir)
    {
        Directory.CreateDirectory(dir);
        var ml = new MLContext(seed: 1);
        int pixels = channels * size * size;
        var schema = SchemaDefinition.Create(typeof(Fixtures.Row));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, pixels);
        var rows = Enumerable.Range(0, 16).Select(i => new Fixtures.Row
        {
            Label = (uint)(i % classes), Features = Enumerable.Range(0, pixels).Select(j => (float)((i * 31 + j) % 255)).ToArray(),
        });
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LsQuantResNet(
            new LsQuantResNetTrainer.Options
            {
                ActivationScheme = "ls-2", WeightScheme = "ls-1", Width = width, UseFourthStage = stages == 4, Epochs = 1,
                BatchSize = 16, ImageChannels = channels, ImageHeight = size, ImageWidth = size,
            })).Fit(data);
        string path = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var resnet = model.LastTransformer;
        using var zip = System.IO.Compression.ZipFile.OpenRead(path);
        long stream = zip.Entries.Single(e => e.FullName.EndsWith("LsQuantPayload", StringComparison.Ordinal)).Length;
        Console.WriteLine($"float32 {resnet.Size.FullPrecisionBytes} quantized {resnet.Size.QuantizedBytes} stream {stream} " +
            $"zip {new FileInfo(path).Length} ratio-stream {(double)stream / resnet.Size.QuantizedBytes:F3} " +
            $"ratio-zip {(double)new FileInfo(path).Length / resnet.Size.QuantizedBytes:F3}");
        return 0;
    }
}
