using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>
/// An experiment folder: config.yaml (the config used), checkpoints/, model.zip (the ML.NET model), metrics.json,
/// training-curves.png, evaluation.json.
/// </summary>
internal sealed class Experiment
{
    public const string ConfigFile = "config.yaml";
    public const string ModelFile = "model.zip";
    public const string MetricsFile = "metrics.json";
    public const string PlotFile = "training-curves.png";
    public const string EvaluationFile = "evaluation.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public Experiment(string folder) => Folder = Path.GetFullPath(folder);

    public string Folder { get; }

    public string CheckpointFolder => Path.Combine(Folder, "checkpoints");

    public string LatestCheckpoint => Path.Combine(CheckpointFolder, Checkpoint.LatestFileName);

    public static Experiment For(ExperimentConfig config) => new(Path.Combine(config.Log.Folder, config.ExperimentName));

    public ExperimentConfig LoadConfig() => ConfigLoader.Load(Path.Combine(Folder, ConfigFile));

    public ITransformer LoadModel(MLContext ml)
    {
        string path = Path.Combine(Folder, ModelFile);
        if (!File.Exists(path))
        {
            throw new ConfigException($"'{Folder}' has no trained model ({ModelFile}); run lsquant train first.");
        }
        return ml.Model.Load(path, out _);
    }

    public IReadOnlyList<EpochMetrics> Train(string configPath, ExperimentConfig c, bool resume, Action<TrainingProgress> progress)
    {
        if (resume && !File.Exists(LatestCheckpoint))
        {
            throw new ConfigException($"--resume: '{Folder}' has no checkpoint to resume from ({LatestCheckpoint}).");
        }
        if (!resume && File.Exists(LatestCheckpoint))
        {
            throw new ConfigException($"'{Folder}' already holds a run; pass --resume to continue it or change experiment_name in '{configPath}'.");
        }
        Directory.CreateDirectory(Folder);
        if (!resume)
        {
            File.Copy(configPath, Path.Combine(Folder, ConfigFile), overwrite: true);
        }

        var ml = new MLContext(c.Seed);
        var (train, test) = DataSets.Load(ml, c.Data);
        // The validation set must reach the trainer with the same label keys as the training data.
        var keyMap = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var keyedTrain = keyMap.Transform(train);
        var teacher = c.KdConfig is null ? null : LoadTeacher(ml, c.KdConfig.Teacher);
        var optimizer = c.Optimization.Optimizer;
        var options = new LsQuantResNetTrainer.Options
        {
            Architecture = ConfigLoader.Architecture(c),
            Epochs = c.Optimization.Epochs,
            BatchSize = c.Optimization.BatchSize,
            Optimizer = ConfigLoader.Optimizer(c),
            LearningRate = optimizer.Lr,
            Momentum = optimizer.Momentum,
            WeightDecay = optimizer.WeightDecay,
            Schedule = ConfigLoader.Schedule(c),
            CropPadding = c.Data.CropPadding,
            HorizontalFlip = c.Data.HorizontalFlip,
            NormalizationMean = c.Data.Mean,
            NormalizationStd = c.Data.Std,
            Teacher = teacher,
            DistillationTemperature = c.KdConfig?.Temperature ?? Defaults.DistillationTemperature,
            TeacherCorrection = c.KdConfig?.TeacherCorrection ?? Defaults.TeacherCorrection,
            ValidationSet = keyMap.Transform(test),
            CheckpointDirectory = CheckpointFolder,
            ResumeFrom = resume ? LatestCheckpoint : null,
            Device = c.Log.Device,
            Seed = c.Seed,
            LogEveryNSteps = c.Log.LogEvery,
            Progress = progress,
        };
        var resnet = ml.MulticlassClassification.Trainers.LsQuantResNet(options).Fit(keyedTrain);
        var toValue = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(resnet.Transform(keyedTrain));
        var model = keyMap.Append(resnet).Append(toValue);
        ml.Model.Save(model, train.Schema, Path.Combine(Folder, ModelFile));
        File.WriteAllText(Path.Combine(Folder, MetricsFile), JsonSerializer.Serialize(new
        {
            experiment = c.ExperimentName,
            architecture = resnet.Architecture.ToJson(),
            model_size = resnet.Size,
            epochs = resnet.TrainingHistory,
        }, Json));
        TrainingCurvesPlot.Save(resnet.TrainingHistory, Path.Combine(Folder, PlotFile));
        return resnet.TrainingHistory;
    }

    /// <summary>Top-1/top-5/log-loss on the test data, the model file's size and the scoring speed (whole pass,
    /// loading excluded), also written to evaluation.json.</summary>
    public (double Top1, double Top5, double LogLoss, long Count, long FileBytes, double ImagesPerSecond) Evaluate()
    {
        var c = LoadConfig();
        var ml = new MLContext(c.Seed);
        var (_, test) = DataSets.Load(ml, c.Data);
        var model = LoadModel(ml);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test), topKPredictionCount: 5);
        double seconds = clock.Elapsed.TotalSeconds;
        long count = test.GetRowCount() ?? test.GetColumn<string>("Label").LongCount();
        long fileBytes = new FileInfo(Path.Combine(Folder, ModelFile)).Length;
        var result = (metrics.MicroAccuracy, metrics.TopKAccuracy, metrics.LogLoss, count, fileBytes, count / seconds);
        File.WriteAllText(Path.Combine(Folder, EvaluationFile), JsonSerializer.Serialize(new
        {
            top1 = metrics.MicroAccuracy, top5 = metrics.TopKAccuracy, log_loss = metrics.LogLoss, images = count,
            model_file_bytes = fileBytes, images_per_second = count / seconds,
        }, Json));
        return result;
    }

    public IEnumerable<(string Image, string Label, float Probability)> Predict(IReadOnlyList<string> images)
    {
        foreach (var image in images)
        {
            if (!File.Exists(image))
            {
                throw new ConfigException($"Image '{image}' does not exist.");
            }
        }
        var ml = new MLContext(1);
        var model = LoadModel(ml);
        var resnet = ((IEnumerable<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single();
        var listing = ml.Data.LoadFromEnumerable(images.Select(i => new ImageFileInput { ImagePath = Path.GetFullPath(i) }));
        var prep = DataSets.ImagePreparation(ml, listing, resnet.ImageChannels, resnet.ImageHeight, resnet.ImageWidth);
        var engine = ml.Model.CreatePredictionEngine<ImageFileInput, ImageClassPrediction>(prep.Append(model));
        foreach (var image in images)
        {
            var p = engine.Predict(new ImageFileInput { ImagePath = Path.GetFullPath(image) });
            yield return (image, p.PredictedLabel, p.Score.Max());
        }
    }

    private static ITransformer LoadTeacher(MLContext ml, string teacher)
    {
        string path = Directory.Exists(teacher) ? Path.Combine(teacher, ModelFile) : teacher;
        if (!File.Exists(path))
        {
            throw new ConfigException($"kd_config.teacher: '{teacher}' is neither an experiment folder with {ModelFile} nor a model file.");
        }
        return ml.Model.Load(path, out _);
    }
}
