using System;
using System.IO;
using System.Linq;
using ML.LeastSquaresQuant.Training;
using Spectre.Console;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>lsquant: train, evaluate and predict with least-squares quantized networks from YAML configs.</summary>
internal static class Program
{
    private const string Usage = """
        usage:
          lsquant train --config FILE.yaml [--resume]   train (or continue) the experiment the config describes
          lsquant evaluate --experiment FOLDER          top-1/top-5 of a trained experiment on its test data
          lsquant predict --experiment FOLDER IMAGE...  classify image files
        An experiment folder ({log.folder}/{experiment_name}) holds config.yaml, checkpoints/, model.zip,
        metrics.json, training-curves.png and evaluation.json.
        """;

    public static int Main(string[] args)
    {
        // The CLI owns its process, so it opts in to the allocator tuning that speeds up CPU training and scoring.
        NativeAllocator.Tune();
        try
        {
            return args.FirstOrDefault() switch
            {
                "train" => Train(args[1..]),
                "evaluate" => Evaluate(args[1..]),
                "predict" => Predict(args[1..]),
                "--help" or "-h" or null => Help(0),
                var other => Fail($"unknown command '{other}'"),
            };
        }
        catch (Exception ex) when (ex is ConfigException or ArgumentException or FormatException or FileNotFoundException
            or DirectoryNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine("lsquant: " + ex.Message);
            return 1;
        }
    }

    private static int Help(int code)
    {
        Console.Out.WriteLine(Usage);
        return code;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"lsquant: {message}\n{Usage}");
        return 2;
    }

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int Train(string[] args)
    {
        string? configPath = Value(args, "--config");
        if (configPath is null)
        {
            return Fail("train needs --config FILE.yaml");
        }
        bool resume = args.Contains("--resume");
        var config = ConfigLoader.Load(configPath);
        var experiment = Experiment.For(config);
        Console.WriteLine($"{(resume ? "Resuming" : "Training")} '{config.ExperimentName}' into {experiment.Folder}");
        var history = Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive
            ? experiment.Train(configPath, config, resume, PlainProgress)
            : TrainWithProgressBars(experiment, configPath, config, resume);
        var last = history[^1];
        Console.WriteLine($"Done: epoch {last.Epoch}, train top-1 {last.TrainTop1:P2}" +
            (last.ValidationTop1 is double v ? $", test top-1 {v:P2}, top-5 {last.ValidationTop5:P2}" : "") + $". Model: {Path.Combine(experiment.Folder, Experiment.ModelFile)}");
        return 0;
    }

    private static void PlainProgress(TrainingProgress p) => Console.WriteLine(p.EpochMetrics is { } m
        ? $"epoch {m.Epoch}: loss {m.TrainLoss:F4} train top-1 {m.TrainTop1:P2}" + (m.ValidationTop1 is double v ? $" test top-1 {v:P2} top-5 {m.ValidationTop5:P2}" : "") + $" ({m.ImagesPerSecond:F0} images/s)"
        : $"epoch {p.Epoch} batch {p.Step}/{p.StepsPerEpoch}: loss {p.Loss:F4} lr {p.LearningRate:G3} {p.ImagesPerSecond:F0} images/s ETA {p.Remaining:hh\\:mm\\:ss}");

    private static System.Collections.Generic.IReadOnlyList<EpochMetrics> TrainWithProgressBars(Experiment experiment, string configPath,
        ExperimentConfig config, bool resume)
    {
        System.Collections.Generic.IReadOnlyList<EpochMetrics> history = [];
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: config.Optimization.Epochs);
                history = experiment.Train(configPath, config, resume, p =>
                {
                    task.Value = p.Epoch - 1 + (double)p.Step / p.StepsPerEpoch;
                    task.Description = p.EpochMetrics is { } m
                        ? $"epoch {m.Epoch}: loss {m.TrainLoss:F3}, train {m.TrainTop1:P1}" + (m.ValidationTop1 is double v ? $", test {v:P1}" : "")
                        : $"epoch {p.Epoch} {p.Step}/{p.StepsPerEpoch}: loss {p.Loss:F3}, {p.ImagesPerSecond:F0} img/s";
                    if (p.EpochMetrics is not null)
                    {
                        AnsiConsole.MarkupLine(Markup.Escape(task.Description));
                    }
                });
            });
        return history;
    }

    private static int Evaluate(string[] args)
    {
        string? folder = Value(args, "--experiment");
        if (folder is null)
        {
            return Fail("evaluate needs --experiment FOLDER");
        }
        var (top1, top5, logLoss, count, bytes, speed) = new Experiment(folder).Evaluate();
        Console.WriteLine($"{count} test images: top-1 {top1:P2}, top-5 {top5:P2}, log-loss {logLoss:F4}; " +
            $"model file {bytes / 1024.0:F1} KiB, scoring {speed:F0} images/s");
        return 0;
    }

    private static int Predict(string[] args)
    {
        string? folder = Value(args, "--experiment");
        var images = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--experiment")).ToArray();
        if (folder is null || images.Length == 0)
        {
            return Fail("predict needs --experiment FOLDER and at least one IMAGE");
        }
        foreach (var (image, label, probability) in new Experiment(folder).Predict(images))
        {
            Console.WriteLine($"{image}\t{label}\t{probability:P1}");
        }
        return 0;
    }
}
