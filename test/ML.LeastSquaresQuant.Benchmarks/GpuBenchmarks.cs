using System;
using System.Diagnostics;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// CUDA measurements side by side in one run, with explicit synchronisation (BenchmarkDotNet cannot see GPU work):
/// exact ls-2 scalars on 128×65536, and ResNet-18 (CIFAR stem, width 64, 100 classes) training (batch 128, Adam)
/// and evaluation (batch 256) throughput per configuration — the shapes of the reference's H100 figures.
/// </summary>
public static class GpuBenchmarks
{
    /// <summary>Runs every measurement and prints a table.</summary>
    public static void Run()
    {
        if (!DeviceSelector.InitializeCuda())
        {
            Console.Error.WriteLine("CUDA is not available.");
            Environment.Exit(1);
        }
        var device = CUDA;
        Console.WriteLine($"device: {cuda.device_count()} CUDA device(s)");
        using (var rows = torch.randn(128, 65536, device: device))
        {
            double ms = Time(() => LeastSquaresQuantizer.ComputeScalarsCore(rows, QuantScheme.LeastSquares2, validateFinite: false).Dispose(), 10, 100, device);
            Console.WriteLine($"exact ls-2 scalars, 128x65536: {ms:F3} ms");
        }
        foreach (var config in new[] { "fp/fp", "ls-1/ls-1", "ls-2/ls-1", "ls-T/ls-1", "gf-2/ls-1", "ls-2/ls-1+KD" })
        {
            var parts = config.Split('+')[0].Split('/');
            var quant = parts[0] == "fp" ? null : new LayerQuantization(QuantScheme.Parse(parts[0]), QuantScheme.Parse(parts[1]), ActivationClamp.Symmetric(2));
            torch.manual_seed(0);
            using var model = QResNetArchitecture.ResNet18(100, 3, quant).Build();
            model.to(device);
            using var teacher = config.EndsWith("+KD", StringComparison.Ordinal) ? QResNetArchitecture.ResNet18(100, 3).Build() : null;
            teacher?.to(device);
            teacher?.eval();
            var optimizer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 2e-4 }.Create(model.parameters());
            using var x = torch.randn(128, 3, 32, 32, device: device);
            using var y = torch.randint(0, 100, [128], dtype: ScalarType.Int64, device: device);
            double trainMs = Time(() =>
            {
                using var scope = NewDisposeScope();
                model.train();
                TrainingLoop.Step(model, optimizer, x, y, teacher, 5, true);
            }, 5, 30, device);
            using var evalBatch = torch.randn(256, 3, 32, 32, device: device);
            double evalMs = Time(() =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = torch.no_grad();
                model.eval();
                model.call(evalBatch);
            }, 5, 30, device);
            Console.WriteLine($"{config,-14} train {128 / trainMs * 1000,8:F0} images/s   eval {256 / evalMs * 1000,8:F0} images/s");
        }
    }

    private static double Time(Action action, int warmup, int iterations, Device device)
    {
        for (int i = 0; i < warmup; i++)
        {
            action();
        }
        cuda.synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            action();
        }
        cuda.synchronize(device);
        return clock.Elapsed.TotalMilliseconds / iterations;
    }
}
