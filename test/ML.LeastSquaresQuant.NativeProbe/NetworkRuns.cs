using System;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// Trains every network shape the project builds (by default or in its tests) for a few steps on a fixed synthetic
/// batch and scores two images one at a time. Prints one line per shape: name, the losses, then the scores, so the
/// parent can compare runs under different oneDNN ISA caps. Exit code 1 when a value is not finite.
/// </summary>
internal static class NetworkRuns
{
    private const int Steps = 4;

    public static IEnumerable<(string Name, NetworkArchitecture Architecture, int ImageSize)> Shapes()
    {
        var ls21 = new LayerQuantization(QuantScheme.LeastSquares2, QuantScheme.LeastSquares1);
        var lsT = new LayerQuantization(QuantScheme.LeastSquaresTernary, QuantScheme.LeastSquares1);
        foreach (int width in new[] { 4, 8, 12, 16 })
        foreach (int channels in new[] { 1, 3 })
        {
            yield return ($"qresnet-w{width}-c{channels}-ls2ls1-13px",
                QResNetArchitecture.ResNet18(4, channels, ls21) with { Width = width, BlocksPerStage = [1, 1, 1], StageQuantization = [ls21, ls21, ls21] }, 13);
        }
        yield return ("qresnet-w8-c3-fp-16px", QResNetArchitecture.ResNet18(4, 3) with
            { Width = 8, BlocksPerStage = [2, 2, 2], StageQuantization = Enumerable.Repeat(LayerQuantization.FullPrecision, 3).ToArray() }, 16);
        yield return ("qresnet-w16-c1-xnor-lsT-28px", QResNetArchitecture.ResNet18(10, 1,
            lsT) with
            { Width = 16, BlocksPerStage = [1, 1, 1], StageQuantization = Enumerable.Repeat(lsT, 3).ToArray(), Block = BlockKind.Xnor, DoubleShortcut = true }, 28);
        yield return ("qresnet-w8-c3-imagenet-stem-32px",
            QResNetArchitecture.ResNet18(4, 3, ls21) with { Width = 8, Stem = StemKind.ImageNet, BlocksPerStage = [1, 1, 1], StageQuantization = [ls21, ls21, ls21] }, 32);
        yield return ("qresnet-w64-c3-resnet18-16px", QResNetArchitecture.ResNet18(10, 3, ls21), 16);
        yield return ("lenet5-ls2ls1-28px", new LeNet5Architecture { NumClasses = 10, Quantization = ls21 }, 28);
        yield return ("lenet5-fp-28px", new LeNet5Architecture { NumClasses = 10 }, 28);
    }

    public static int Run()
    {
        int failures = 0;
        foreach (var (name, architecture, size) in Shapes())
        {
            using var scope = NewDisposeScope();
            manual_seed(7);
            var network = architecture.Build();
            var images = randn(8, architecture.InputChannels, size, size);
            var labels = arange(8, dtype: ScalarType.Int64).remainder(architecture.NumClasses);
            using var optimizer = optim.SGD(network.parameters(), 0.02, momentum: 0.9);
            var losses = new List<double>();
            network.train();
            for (int step = 0; step < Steps; step++)
            {
                using var stepScope = NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(network.call(images), labels);
                loss.backward();
                optimizer.step();
                losses.Add(loss.item<float>());
            }
            network.eval();
            var scores = new List<double>();
            using (no_grad())
            {
                for (int i = 0; i < 2; i++)
                {
                    scores.AddRange(network.call(images.narrow(0, i, 1)).data<float>().ToArray().Select(v => (double)v));
                }
            }
            bool finite = losses.Concat(scores).All(double.IsFinite);
            failures += finite ? 0 : 1;
            Console.WriteLine($"{name} losses {string.Join(' ', losses.Select(v => v.ToString("R")))} scores {string.Join(' ', scores.Select(v => v.ToString("R")))}");
        }
        return failures == 0 ? 0 : 1;
    }
}
