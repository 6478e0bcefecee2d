using System;
using System.Globalization;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// <c>load-score C H W MODEL.zip…</c>: for each file, loads the saved pipeline with <c>mlContext.Model.Load</c> and
/// scores one synthetic [C, H, W] image (plus a "Label" text column). Prints, one line per file as it goes,
/// "ok" and the scores or "error" with the exception chain; a native crash or hang shows as this process's exit
/// status instead, and the files without a line tell the parent which one caused it.
/// </summary>
internal static class ModelScoring
{
    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "c0";
    }

    /// <summary>Runs the command.</summary>
    /// <param name="args">load-score C H W MODEL.zip….</param>
    /// <returns>0 when every file was tried.</returns>
    public static int LoadScore(string[] args)
    {
        int c = int.Parse(args[1]), h = int.Parse(args[2]), w = int.Parse(args[3]);
        foreach (var path in args.Skip(4))
        {
            Console.WriteLine(LoadScore(path, c, h, w));
            Console.Out.Flush();
        }
        return 0;
    }

    /// <summary>
    /// <c>score-images MODEL.zip IMAGE…</c>: scores image files through the saved LoadImages → ResizeImages →
    /// ExtractPixels → LsQuantResNet pipeline, one line per image as for load-score.
    /// </summary>
    /// <param name="args">score-images MODEL.zip IMAGE….</param>
    /// <returns>0 when every image was tried.</returns>
    public static int ScoreImages(string[] args)
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(args[1], out _);
        var engine = ml.Model.CreatePredictionEngine<ML.LeastSquaresQuant.MLNet.ImageFileInput, ML.LeastSquaresQuant.MLNet.ImageClassPrediction>(model);
        foreach (var path in args.Skip(2))
        {
            string line;
            try
            {
                var p = engine.Predict(new ML.LeastSquaresQuant.MLNet.ImageFileInput { ImagePath = path });
                line = "ok " + string.Join(" ", p.Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
            }
            catch (Exception ex)
            {
                line = $"error {string.Join(" > ", Chain(ex).Select(e => e.GetType().Name))}: {Chain(ex).Last().Message.ReplaceLineEndings(" ")}";
            }
            Console.WriteLine(line);
            Console.Out.Flush();
        }
        return 0;
    }

    private static string LoadScore(string path, int c, int h, int w)
    {
        try
        {
            var ml = new MLContext(seed: 1);
            var model = ml.Model.Load(path, out _);
            var definition = SchemaDefinition.Create(typeof(Row));
            definition[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, c, h, w);
            var row = new Row { Features = Enumerable.Range(0, c * h * w).Select(i => (float)(i % 17 * 7)).ToArray() };
            var data = ml.Data.LoadFromEnumerable(new[] { row }, definition);
            var scored = model.Transform(data);
            var scores = scored.GetColumn<float[]>("Score").Single();
            return "ok " + string.Join(" ", scores.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
        }
        catch (Exception ex)
        {
            var chain = string.Join(" > ", Chain(ex).Select(e => e.GetType().Name));
            // The outermost FormatException is what names the problem (ours carries the field); one line for the parent.
            var named = Chain(ex).FirstOrDefault(e => e is FormatException) ?? Chain(ex).Last();
            return $"error {chain}: {named.Message.ReplaceLineEndings(" ")} | top: {ex.Message.ReplaceLineEndings(" ")}";
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
