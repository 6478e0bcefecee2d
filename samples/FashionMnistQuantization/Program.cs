using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.Samples;

/// <summary>
/// The whole story on real Fashion-MNIST: a full-precision teacher, an ls-2/ls-1 student distilled from it,
/// evaluation of both, Model.Save/Load, scoring of single PNG images, and a comparison table.
/// </summary>
public static class Program
{
    /// <summary>Entry point; see <see cref="SampleOptions.Usage"/>.</summary>
    /// <param name="args">Options.</param>
    /// <returns>0 on success.</returns>
    public static int Main(string[] args)
    {
        SampleOptions options;
        try
        {
            options = SampleOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
        // A program owns its process and may tune its allocator: this speeds up CPU scoring (training tunes anyway).
        NativeAllocator.Tune();
        var total = Stopwatch.StartNew();
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) =>
        {
            if (e.Source == "LsQuantResNet" && e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info)
            {
                Console.WriteLine("  " + e.RawMessage);
            }
        };

        var files = FashionMnist.Files(options.DataFolder);
        Console.WriteLine($"Fashion-MNIST from {options.DataFolder}: {options.TrainImages} training and {options.TestImages} test images.");
        var train = ml.Data.TakeRows(ml.Data.LoadFromIdx(files.TrainImages, files.TrainLabels, FashionMnist.ClassNames), options.TrainImages);
        var test = ml.Data.TakeRows(ml.Data.LoadFromIdx(files.TestImages, files.TestLabels, FashionMnist.ClassNames), options.TestImages);
        Directory.CreateDirectory(options.OutputFolder);

        var results = new List<Row>();
        Console.WriteLine("\n1. Full-precision teacher (fp activations, fp weights)");
        var (teacher, teacherRow) = TrainAndEvaluate(ml, "teacher fp/fp", train, test, options, new LsQuantResNetTrainer.Options
        {
            // The paper's teacher uses SGD for 200 epochs; for a few epochs Adam converges much faster.
            ActivationScheme = "fp", WeightScheme = "fp", LearningRate = 2e-3, Epochs = options.TeacherEpochs,
        });
        results.Add(teacherRow);

        Console.WriteLine("\n2. Quantized student (ls-2 activations, ls-1 weights), distilled from the teacher");
        var (student, studentRow) = TrainAndEvaluate(ml, "student ls-2/ls-1 + KD", train, test, options, new LsQuantResNetTrainer.Options
        {
            ActivationScheme = "ls-2", WeightScheme = "ls-1", LearningRate = 2e-3, Epochs = options.StudentEpochs, Teacher = teacher,
            DistillationTemperature = 5, TeacherCorrection = true,
        });
        results.Add(studentRow);

        Console.WriteLine("\n3. Save, load, and score single PNG images with a PredictionEngine");
        string modelPath = Path.Combine(options.OutputFolder, "student.zip");
        ml.Model.Save(student, train.Schema, modelPath);
        var loaded = ml.Model.Load(modelPath, out _);
        var pngs = PngExporter.ExportIdx(files.TestImages, files.TestLabels, Path.Combine(options.OutputFolder, "png"), FashionMnist.ClassNames, limit: 8);
        var pngData = ml.Data.LoadFromEnumerable(pngs.Select(p => new ImageFileInput { ImagePath = p.ImagePath, Label = "" }));
        var imagePrep = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", colorsToExtract: Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red))
            .Fit(pngData);
        var engine = ml.Model.CreatePredictionEngine<ImageFileInput, ImageClassPrediction>(imagePrep.Append(loaded));
        int right = 0;
        foreach (var png in pngs)
        {
            var p = engine.Predict(new ImageFileInput { ImagePath = png.ImagePath });
            bool ok = PngExporter.SafeName(p.PredictedLabel) == png.Label;
            right += ok ? 1 : 0;
            Console.WriteLine($"  {Path.GetRelativePath(options.OutputFolder, png.ImagePath),-32} true {png.Label,-12} predicted {p.PredictedLabel,-12} ({p.Score.Max():P0}){(ok ? "" : "  ✗")}");
        }
        Console.WriteLine($"  {right}/{pngs.Count} PNG images classified correctly; model file {new FileInfo(modelPath).Length / 1024.0:F0} KiB");

        Console.WriteLine("\n4. Binary engine vs float path on every test image");
        CompareEngineWithFloatPath(ml, student, test);

        Console.WriteLine("\n5. Comparison");
        Console.WriteLine($"  {"model",-24} {"top-1",7} {"top-5",7} {"fp32 size",10} {"1-bit size",11} {"file",9} {"train s",8} {"eval img/s",11}");
        foreach (var r in results)
        {
            Console.WriteLine($"  {r.Name,-24} {r.Top1,7:P2} {r.Top5,7:P2} {r.FullPrecisionKiB,8:F0} K {r.QuantizedKiB,9:F0} K {r.FileKiB,7:F0} K {r.TrainSeconds,8:F0} {r.EvalImagesPerSecond,11:F0}");
        }
        Console.WriteLine($"\nTotal time {total.Elapsed:mm\\:ss}. Output in {Path.GetFullPath(options.OutputFolder)}.");
        return 0;
    }

    /// <summary>Scores the test set with the binary engine (the default) and with the float path, and reports label
    /// disagreements and the largest score difference.</summary>
    private static void CompareEngineWithFloatPath(MLContext ml, ITransformer model, IDataView test)
    {
        var resnet = ((IEnumerable<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single();
        float[][] Scores() => model.Transform(test).GetColumn<float[]>("Score").ToArray();
        var clock = Stopwatch.StartNew();
        var engine = Scores();
        double engineSeconds = clock.Elapsed.TotalSeconds;
        resnet.UseBinaryEngine = false;
        clock.Restart();
        var simulated = Scores();
        double floatSeconds = clock.Elapsed.TotalSeconds;
        resnet.UseBinaryEngine = true;
        static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());
        int disagreements = engine.Zip(simulated).Count(p => ArgMax(p.First) != ArgMax(p.Second));
        double maxDiff = engine.Zip(simulated).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Console.WriteLine($"  {engine.Length} images: {disagreements} predicted labels differ, largest score difference {maxDiff:E2}; " +
            $"engine {engine.Length / engineSeconds:F0} images/s, float path {simulated.Length / floatSeconds:F0} images/s");
    }

    private sealed record Row(string Name, double Top1, double Top5, double FullPrecisionKiB, double QuantizedKiB, double FileKiB, double TrainSeconds, double EvalImagesPerSecond);

    private static (ITransformer Model, Row Result) TrainAndEvaluate(MLContext ml, string name, IDataView train, IDataView test,
        SampleOptions sample, LsQuantResNetTrainer.Options options)
    {
        options.Width = sample.Width;
        options.UseFourthStage = sample.FourthStage;
        options.BatchSize = sample.BatchSize;
        options.Device = sample.Device;
        options.CropPadding = 2;
        options.LogEveryNSteps = 40;
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var clock = Stopwatch.StartNew();
        var model = pipeline.Fit(train);
        double trainSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), topKPredictionCount: 5);
        double evalRate = sample.TestImages / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"  {name}: top-1 {metrics.MicroAccuracy:P2}, top-5 {metrics.TopKAccuracy:P2}");
        Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
        var size = ((IEnumerable<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single().Size;
        // The real model.zip (format version 2 stores quantized weights as bits), beside the estimates above.
        string file = Path.Combine(sample.OutputFolder, new string(name.Where(char.IsLetterOrDigit).ToArray()) + ".zip");
        ml.Model.Save(model, train.Schema, file);
        return (model, new Row(name, metrics.MicroAccuracy, metrics.TopKAccuracy, size.FullPrecisionBytes / 1024.0,
            size.QuantizedBytes / 1024.0, new FileInfo(file).Length / 1024.0, trainSeconds, evalRate));
    }
}
