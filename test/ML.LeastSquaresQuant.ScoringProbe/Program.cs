using System;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.ScoringProbe;

/// <summary>Usage: ScoringProbe MODEL.zip IMAGE... — prints "label score score ..." per image (round-trip floats), then "allocator tuned: True|False".</summary>
public static class Program
{
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
        var engine = ml.Model.CreatePredictionEngine<ImageFileInput, ImageClassPrediction>(model);
        foreach (var path in args.Skip(1))
        {
            var p = engine.Predict(new ImageFileInput { ImagePath = path });
            Console.WriteLine(p.PredictedLabel + " " + string.Join(" ", p.Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture))));
        }
        // Loading and scoring must leave the host's allocator alone (only training and explicit calls tune it).
        Console.WriteLine("allocator tuned: " + NativeAllocator.IsTuned);
        return 0;
    }
}
