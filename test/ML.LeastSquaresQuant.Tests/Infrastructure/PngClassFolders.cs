using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Writes a folder of class sub-folders of PNG images with distinct synthetic patterns.</summary>
internal static class PngClassFolders
{
    public static readonly string[] Classes = ["reds", "greens", "stripes"];

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    public static List<ImageRow> Write(string root, int perClass, int size, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<ImageRow>();
        for (int c = 0; c < Classes.Length; c++)
        {
            string folder = Path.Combine(root, Classes[c]);
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                var pixels = new byte[size * size * 4];
                for (int y = 0; y < size; y++)
                {
                    for (int x = 0; x < size; x++)
                    {
                        int o = (y * size + x) * 4;
                        byte noise() => (byte)rng.Next(0, 70);
                        (byte r, byte g, byte b) = c switch
                        {
                            0 => ((byte)(150 + noise()), noise(), noise()),
                            1 => (noise(), (byte)(150 + noise()), noise()),
                            _ => y % 4 < 2 ? ((byte)(180 + noise() / 2), (byte)(180 + noise() / 2), (byte)(180 + noise() / 2)) : (noise(), noise(), noise()),
                        };
                        pixels[o] = r;
                        pixels[o + 1] = g;
                        pixels[o + 2] = b;
                        pixels[o + 3] = 255;
                    }
                }
                string path = Path.Combine(folder, $"{i:D3}.png");
                using (var image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, pixels))
                {
                    image.Save(path);
                }
                rows.Add(new ImageRow { ImagePath = path, Label = Classes[c] });
            }
        }
        return rows;
    }
}
