using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ML.LeastSquaresQuant.Data;

/// <summary>An image file and its class, as found in a folder of class sub-folders.</summary>
/// <param name="ImagePath">Full path of the image file.</param>
/// <param name="Label">The name of the sub-folder it is in.</param>
public sealed record ImageFileEntry(string ImagePath, string Label);

/// <summary>Lists a folder of class sub-folders of images (the usual ML.NET image-classification layout).</summary>
public static class ImageFolder
{
    /// <summary>The file extensions taken as images.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif"];

    /// <summary>Lists every image under <paramref name="root"/>, labelled by its sub-folder, in a stable order.</summary>
    /// <param name="root">The folder holding one sub-folder per class.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FormatException">It has no class sub-folders with images.</exception>
    public static IReadOnlyList<ImageFileEntry> List(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        }
        var entries = Directory.GetDirectories(root)
            .OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(dir => Directory.GetFiles(dir)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new ImageFileEntry(Path.GetFullPath(f), Path.GetFileName(dir))))
            .ToList();
        if (entries.Count == 0)
        {
            throw new FormatException($"Image folder '{root}' has no class sub-folders with images ({string.Join(", ", Extensions)}).");
        }
        return entries;
    }
}
