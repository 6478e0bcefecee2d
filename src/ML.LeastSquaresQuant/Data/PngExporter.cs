using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.Data;

/// <summary>Writes IDX images as PNG files into one sub-folder per class, so the ML.NET image pipeline can run on them.</summary>
public static class PngExporter
{
    /// <summary>Exports images.</summary>
    /// <param name="imagesPath">IDX image file.</param>
    /// <param name="labelsPath">IDX label file.</param>
    /// <param name="outputFolder">Folder to create the class sub-folders in.</param>
    /// <param name="classNames">Folder names per label (file-name-safe characters are kept, others become '_'); labels as numbers when null.</param>
    /// <param name="limit">Export at most this many images (the first ones); all when null.</param>
    /// <returns>The files written, with their labels.</returns>
    /// <exception cref="FormatException">An input file is malformed or the two disagree in count.</exception>
    public static IReadOnlyList<ImageFileEntry> ExportIdx(string imagesPath, string labelsPath, string outputFolder,
        IReadOnlyList<string>? classNames = null, int? limit = null)
    {
        var (pixels, count, rows, cols) = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);
        if (labels.Length != count)
        {
            throw new FormatException($"'{imagesPath}' has {count} images but '{labelsPath}' has {labels.Length} labels.");
        }
        int n = Math.Min(count, limit ?? count);
        var written = new List<ImageFileEntry>(n);
        var rgba = new byte[rows * cols * 4];
        for (int i = 0; i < n; i++)
        {
            string label = classNames is null ? labels[i].ToString(CultureInfo.InvariantCulture) : SafeName(classNames[labels[i]]);
            string folder = Path.Combine(outputFolder, label);
            Directory.CreateDirectory(folder);
            for (int p = 0; p < rows * cols; p++)
            {
                byte v = pixels[(long)i * rows * cols + p];
                rgba[4 * p] = v;
                rgba[4 * p + 1] = v;
                rgba[4 * p + 2] = v;
                rgba[4 * p + 3] = 255;
            }
            string path = Path.Combine(folder, $"{i:D6}.png");
            using (var image = MLImage.CreateFromPixels(cols, rows, MLPixelFormat.Rgba32, rgba))
            {
                image.Save(path);
            }
            written.Add(new ImageFileEntry(Path.GetFullPath(path), label));
        }
        return written;
    }

    /// <summary>A class name turned into a folder name.</summary>
    /// <param name="name">The class name.</param>
    /// <returns>Letters, digits, '-' and '_' kept; everything else '_'.</returns>
    public static string SafeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] != '-' && chars[i] != '_')
            {
                chars[i] = '_';
            }
        }
        return new string(chars);
    }
}
