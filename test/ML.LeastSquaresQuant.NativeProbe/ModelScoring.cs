using System;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// <c>load-score MODEL.zip C H W</c>: loads a saved pipeline with <c>mlContext.Model.Load</c> and scores one
/// synthetic [C, H, W] image (plus a "Label" text column). Prints "ok" and the scores, or "error" with the exception
/// chain; a native crash, hang or memory-cap hit shows as this process's exit status instead.
/// </summary>
internal static class ModelScoring
{
    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "c0";
    }

    /// <summary>Runs the command.</summary>
    /// <param name="args">MODEL.zip C H W.</param>
    /// <returns>0 when scored, 3 for a managed exception.</returns>
    public static int LoadScore(string[] args)
    {
        int c = int.Parse(args[1]), h = int.Parse(args[2]), w = int.Parse(args[3]);
        try
        {
            var ml = new MLContext(seed: 1);
            var model = ml.Model.Load(args[0], out _);
            var definition = SchemaDefinition.Create(typeof(Row));
            definition[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, c, h, w);
            var row = new Row { Features = Enumerable.Range(0, c * h * w).Select(i => (float)(i % 17 * 7)).ToArray() };
            var data = ml.Data.LoadFromEnumerable(new[] { row }, definition);
            var scored = model.Transform(data);
            var scores = scored.GetColumn<float[]>("Score").Single();
            Console.WriteLine("ok " + string.Join(" ", scores.Select(s => s.ToString("R", CultureInfo.InvariantCulture))));
            return 0;
        }
        catch (Exception ex)
        {
            var chain = string.Join(" > ", Chain(ex).Select(e => e.GetType().Name));
            // The innermost message names the problem; one line so the parent can parse it.
            Console.WriteLine($"error {chain}: {Chain(ex).Last().Message.ReplaceLineEndings(" ")} | top: {ex.Message.ReplaceLineEndings(" ")}");
            return 3;
        }
    }

    private static System.Collections.Generic.IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }
}
