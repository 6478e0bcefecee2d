using System;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.ScoringProbe;

/// <summary>Usage: ScoringProbe MODEL.zip IMAGE... — prints "label score score ..." per image (round-trip floats).</summary>
public static class Program
{
    /// <summary>An input row of the image pipeline.</summary>
    public sealed class ImageRow
    {
        /// <summary>Path of the image file.</summary>
        public string ImagePath { get; set; } = "";

        /// <summary>Label (unknown when scoring).</summary>
        public string Label { get; set; } = "";
    }

    /// <summary>What the pipeline predicts.</summary>
    public sealed class Prediction
    {
        /// <summary>Class probabilities.</summary>
        public float[] Score { get; set; } = [];

        /// <summary>The predicted label's value.</summary>
        public string PredictedLabel { get; set; } = "";
    }

    /// <summary>Entry point.</summary>
    /// <param name="args">Model path, then image paths.</param>
    /// <returns>0 on success.</returns>
    public static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: ScoringProbe MODEL.zip IMAGE...");
            return 2;
        }
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(args[0], out _);
        var engine = ml.Model.CreatePredictionEngine<ImageRow, Prediction>(model);
        foreach (var path in args.Skip(1))
        {
            var p = engine.Predict(new ImageRow { ImagePath = path });
            Console.WriteLine(p.PredictedLabel + " " + string.Join(" ", p.Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture))));
        }
        return 0;
    }
}
