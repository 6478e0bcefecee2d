using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>
/// Draws the training curves as a PNG: train and test top-1 accuracy (left axis, 0–100 %) and train loss (right
/// axis, 0–max). Rendered here and saved through ML.NET's image type, because ScottPlot 5.1 needs SkiaSharp 3 while
/// ML.NET's image transforms need SkiaSharp 2.88, and the two cannot load in one process.
/// </summary>
internal static class TrainingCurvesPlot
{
    private const int Width = 900, Height = 520, Left = 70, Right = 70, Top = 40, Bottom = 60;
    private static readonly (byte R, byte G, byte B) Blue = (31, 119, 180), Orange = (255, 127, 14), Green = (44, 160, 44), Grey = (200, 200, 200), Black = (40, 40, 40);

    // 3×5 glyphs, one row per string, '#' = ink.
    private static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['0'] = ["###", "#.#", "#.#", "#.#", "###"], ['1'] = [".#.", "##.", ".#.", ".#.", "###"], ['2'] = ["###", "..#", "###", "#..", "###"],
        ['3'] = ["###", "..#", "###", "..#", "###"], ['4'] = ["#.#", "#.#", "###", "..#", "..#"], ['5'] = ["###", "#..", "###", "..#", "###"],
        ['6'] = ["###", "#..", "###", "#.#", "###"], ['7'] = ["###", "..#", "..#", "..#", "..#"], ['8'] = ["###", "#.#", "###", "#.#", "###"],
        ['9'] = ["###", "#.#", "###", "..#", "###"], ['.'] = ["...", "...", "...", "...", ".#."], ['%'] = ["#.#", "..#", ".#.", "#..", "#.#"],
        ['A'] = ["###", "#.#", "###", "#.#", "#.#"], ['C'] = ["###", "#..", "#..", "#..", "###"], ['E'] = ["###", "#..", "##.", "#..", "###"],
        ['H'] = ["#.#", "#.#", "###", "#.#", "#.#"], ['I'] = ["###", ".#.", ".#.", ".#.", "###"], ['L'] = ["#..", "#..", "#..", "#..", "###"],
        ['N'] = ["##.", "#.#", "#.#", "#.#", "#.#"], ['O'] = ["###", "#.#", "#.#", "#.#", "###"], ['P'] = ["###", "#.#", "###", "#..", "#.."],
        ['R'] = ["##.", "#.#", "##.", "#.#", "#.#"], ['S'] = ["###", "#..", "###", "..#", "###"], ['T'] = ["###", ".#.", ".#.", ".#.", ".#."],
        [' '] = ["...", "...", "...", "...", "..."], ['-'] = ["...", "...", "###", "...", "..."],
    };

    public static void Save(IReadOnlyList<EpochMetrics> history, string path)
    {
        var canvas = new byte[Width * Height * 4];
        Array.Fill(canvas, (byte)255);
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        int lastEpoch = Math.Max(1, history.Count == 0 ? 1 : history[^1].Epoch);
        int firstEpoch = history.Count == 0 ? 0 : Math.Min(history[0].Epoch, lastEpoch - 1);
        double maxLoss = Math.Max(1e-9, history.Select(m => m.TrainLoss).DefaultIfEmpty(1).Max());
        int X(double epoch) => Left + (int)Math.Round((epoch - firstEpoch) / (lastEpoch - firstEpoch) * plotW);
        int Y(double fraction) => Top + plotH - (int)Math.Round(fraction * plotH);

        for (int g = 0; g <= 10; g++)
        {
            Line(canvas, Left, Y(g / 10.0), Left + plotW, Y(g / 10.0), Grey);
            Text(canvas, $"{g * 10}%", Left - 40, Y(g / 10.0) - 5, Black);
            Text(canvas, (maxLoss * g / 10).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), Left + plotW + 8, Y(g / 10.0) - 5, Green);
        }
        for (int e = firstEpoch; e <= lastEpoch; e++)
        {
            Line(canvas, X(e), Top, X(e), Top + plotH, Grey);
            Text(canvas, e.ToString(System.Globalization.CultureInfo.InvariantCulture), X(e) - 3, Top + plotH + 8, Black);
        }
        Text(canvas, "EPOCH", Left + plotW / 2 - 15, Top + plotH + 30, Black);
        Series(canvas, history.Select(m => (X(m.Epoch), Y(m.TrainTop1))).ToList(), Blue);
        Series(canvas, history.Where(m => m.ValidationTop1 is not null).Select(m => (X(m.Epoch), Y(m.ValidationTop1!.Value))).ToList(), Orange);
        Series(canvas, history.Select(m => (X(m.Epoch), Y(m.TrainLoss / maxLoss))).ToList(), Green);
        Legend(canvas, Left + 10, 12, "TRAIN ACC", Blue);
        Legend(canvas, Left + 150, 12, "TEST ACC", Orange);
        Legend(canvas, Left + 290, 12, "TRAIN LOSS", Green);

        using var image = MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Rgba32, canvas);
        image.Save(path);
    }

    private static void Legend(byte[] canvas, int x, int y, string label, (byte, byte, byte) color)
    {
        for (int d = -1; d <= 1; d++)
        {
            Line(canvas, x, y + 5 + d, x + 20, y + 5 + d, color);
        }
        Text(canvas, label, x + 26, y, Black);
    }

    private static void Series(byte[] canvas, List<(int X, int Y)> points, (byte, byte, byte) color)
    {
        for (int i = 0; i < points.Count; i++)
        {
            for (int dx = -2; dx <= 2; dx++)
            {
                for (int dy = -2; dy <= 2; dy++)
                {
                    Set(canvas, points[i].X + dx, points[i].Y + dy, color);
                }
            }
            if (i > 0)
            {
                for (int d = -1; d <= 1; d++)
                {
                    Line(canvas, points[i - 1].X, points[i - 1].Y + d, points[i].X, points[i].Y + d, color);
                }
            }
        }
    }

    private static void Line(byte[] canvas, int x0, int y0, int x1, int y1, (byte, byte, byte) color)
    {
        int steps = Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0));
        for (int s = 0; s <= steps; s++)
        {
            double t = steps == 0 ? 0 : (double)s / steps;
            Set(canvas, (int)Math.Round(x0 + t * (x1 - x0)), (int)Math.Round(y0 + t * (y1 - y0)), color);
        }
    }

    private static void Text(byte[] canvas, string text, int x, int y, (byte, byte, byte) color)
    {
        foreach (char ch in text.ToUpperInvariant())
        {
            if (Glyphs.TryGetValue(ch, out var glyph))
            {
                for (int row = 0; row < 5; row++)
                {
                    for (int col = 0; col < 3; col++)
                    {
                        if (glyph[row][col] == '#')
                        {
                            for (int k = 0; k < 4; k++)
                            {
                                Set(canvas, x + col * 2 + k % 2, y + row * 2 + k / 2, color);
                            }
                        }
                    }
                }
            }
            x += 8;
        }
    }

    private static void Set(byte[] canvas, int x, int y, (byte R, byte G, byte B) color)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height)
        {
            return;
        }
        int o = (y * Width + x) * 4;
        canvas[o] = color.R;
        canvas[o + 1] = color.G;
        canvas[o + 2] = color.B;
        canvas[o + 3] = 255;
    }
}
