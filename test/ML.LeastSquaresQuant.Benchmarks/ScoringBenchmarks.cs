using System.Linq;
using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Modules;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// Scoring one 3×32×32 image with an ML.NET <c>PredictionEngine</c> over an <see cref="LsQuantResNetTransformer"/>
/// (ResNet-18, CIFAR stem, width 64, 10 classes), as an application that classifies images one by one does.
/// <c>Weights = per-image</c> reconstructs the quantized weights on every call (what the transformer did before it
/// kept them), for a side-by-side comparison.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ScoringBenchmarks
{
    private const int Pixels = 3 * 32 * 32;
    private PredictionEngine<Row, Scored> _engine = null!;
    private readonly Row _image = new() { Features = Enumerable.Range(0, Pixels).Select(i => (float)(i % 255)).ToArray() };

    /// <summary>Activation/weight schemes of every stage.</summary>
    [Params("fp/fp", "ls-2/ls-1")]
    public string Config { get; set; } = "fp/fp";

    /// <summary><c>kept</c>: reconstructed once (the transformer's behaviour); <c>per-image</c>: on every call.</summary>
    [Params("kept", "per-image")]
    public string Weights { get; set; } = "kept";

    /// <summary>Trains a transformer for one short epoch (the weights' values do not matter for speed).</summary>
    [GlobalSetup]
    public void Setup()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 16).Select(i => new Row
        {
            Features = Enumerable.Range(0, Pixels).Select(j => (float)((i * 31 + j) % 255)).ToArray(),
            Label = "c" + (i % 10),
        });
        var schemes = Config.Split('/');
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(new LsQuantResNetTrainer.Options
            {
                ImageChannels = 3, ImageHeight = 32, ImageWidth = 32, Width = 64,
                ActivationScheme = schemes[0], WeightScheme = schemes[1], Epochs = 1, BatchSize = 16,
            }));
        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(rows));
        if (Weights == "per-image")
        {
            var network = model.LastTransformer.Network;
            foreach (var module in network.modules())
            {
                (module as QuantConv2d)?.WeightQuantizer.Unfreeze();
            }
        }
        _engine = ml.Model.CreatePredictionEngine<Row, Scored>(model);
    }

    /// <summary>Scores one image.</summary>
    [Benchmark]
    public float[] PredictOne() => _engine.Predict(_image).Score;

    /// <summary>An input row: pixels and a label (the label is only used for training).</summary>
    public sealed class Row
    {
        /// <summary>Pixels, channel-major.</summary>
        [VectorType(Pixels)]
        public float[] Features { get; set; } = [];

        /// <summary>Class name.</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>The scores.</summary>
    public sealed class Scored
    {
        /// <summary>Class probabilities.</summary>
        public float[] Score { get; set; } = [];
    }
}
