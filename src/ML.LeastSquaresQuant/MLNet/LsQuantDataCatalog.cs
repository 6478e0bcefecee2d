using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using ML.LeastSquaresQuant.Data;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// Data loaders on <c>mlContext.Data</c> for the image formats the paper's experiments use (IDX, CIFAR binary, a folder
/// of class folders), kept apart from the trainer and transform entry points of <see cref="LsQuantCatalog"/>.
/// </summary>
public static class LsQuantDataCatalog
{
    /// <summary>
    /// Loads IDX files (MNIST, Fashion-MNIST; gzipped or not) as rows with <c>Label</c> (text) and
    /// <c>Features</c> (vector of Single, shape [1, rows, cols], values 0..255).
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="imagesPath">Path of the IDX file holding the images (…-images-idx3-ubyte[.gz]).</param>
    /// <param name="labelsPath">Path of the IDX file holding one label byte per image (…-labels-idx1-ubyte[.gz]).</param>
    /// <param name="classNames">Label texts per class index; the index as text when null.</param>
    /// <returns>The data, read lazily from memory.</returns>
    /// <exception cref="System.IO.FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="FormatException">A file is malformed or the two disagree in count.</exception>
    public static IDataView LoadFromIdx(this DataOperationsCatalog catalog, string imagesPath, string labelsPath,
        IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var (pixels, count, rows, cols) = IdxFile.ReadImages(imagesPath);
        var labels = IdxFile.ReadLabels(labelsPath);
        if (labels.Length != count)
        {
            throw new FormatException($"'{imagesPath}' has {count} images but '{labelsPath}' has {labels.Length} labels.");
        }
        return LabelledImages.ToDataView(catalog, pixels, labels, 1, rows, cols, classNames);
    }

    /// <summary>
    /// Loads CIFAR-10 or CIFAR-100 binary files as rows with <c>Label</c> (text) and <c>Features</c>
    /// (vector of Single, shape [3, 32, 32], values 0..255).
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="format">CIFAR-10 or CIFAR-100.</param>
    /// <param name="paths">The binary batch files.</param>
    /// <param name="coarseLabels">CIFAR-100: use the 20 coarse labels.</param>
    /// <param name="classNames">Label texts per class index; the index as text when null.</param>
    /// <returns>The data.</returns>
    /// <exception cref="FormatException">A file is not a whole number of records or has an out-of-range label.</exception>
    public static IDataView LoadFromCifarBinary(this DataOperationsCatalog catalog, CifarFormat format, IReadOnlyList<string> paths,
        bool coarseLabels = false, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(paths);
        var (pixels, labels) = CifarBinary.Read(format, coarseLabels, paths.ToArray());
        return LabelledImages.ToDataView(catalog, pixels, labels, 3, 32, 32, classNames);
    }

    /// <summary>
    /// Lists a folder of class sub-folders of images as rows with <c>ImagePath</c> and <c>Label</c> (the sub-folder's
    /// name), ready for <c>LoadImages</c>.
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="root">Folder with one sub-folder per class, named after the class, holding that class's images.</param>
    /// <returns>The data.</returns>
    /// <exception cref="System.IO.DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FormatException">It holds no class sub-folders with images.</exception>
    public static IDataView LoadFromImageFolder(this DataOperationsCatalog catalog, string root)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog.LoadFromEnumerable(ImageFolder.List(root));
    }
}
