using System;
using Microsoft.ML;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>Catalog extension methods: the entry points ML.NET users call on <see cref="MLContext"/>.</summary>
public static class LsQuantCatalog
{
    /// <summary>
    /// Trains a least-squares quantized ResNet-18 image classifier with the paper's student architecture.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog (<c>mlContext.MulticlassClassification.Trainers</c>).</param>
    /// <param name="labelColumnName">Label column, a key type (use MapValueToKey). Defaults to <c>Label</c>.</param>
    /// <param name="featureColumnName">Features column: one image per row as a vector of Single with shape [C, H, W]
    /// (ExtractPixels gives it). Defaults to <c>Features</c>.</param>
    /// <param name="activationScheme">Activation scheme of every stage: <c>fp</c>, <c>ls-1</c>, <c>ls-2</c> (default),
    /// <c>ls-T</c> or <c>gf-k</c>.</param>
    /// <param name="weightScheme">Weight scheme of every stage; defaults to <c>ls-1</c>.</param>
    /// <param name="epochs">Training epochs; defaults to 20.</param>
    /// <returns>The trainer.</returns>
    /// <exception cref="ArgumentException">A scheme name is not valid.</exception>
    public static LsQuantResNetTrainer LsQuantResNet(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = LsQuantResNetTrainer.Defaults.Label,
        string featureColumnName = LsQuantResNetTrainer.Defaults.Features,
        string activationScheme = LsQuantResNetTrainer.Defaults.ActivationScheme,
        string weightScheme = LsQuantResNetTrainer.Defaults.WeightScheme,
        int epochs = LsQuantResNetTrainer.Defaults.Epochs) =>
        LsQuantResNet(catalog, new LsQuantResNetTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            ActivationScheme = activationScheme,
            WeightScheme = weightScheme,
            Epochs = epochs,
        });

    /// <summary>Trains a least-squares quantized ResNet image classifier with every option available.</summary>
    /// <param name="catalog">The multiclass trainers catalog (<c>mlContext.MulticlassClassification.Trainers</c>).</param>
    /// <param name="options">The options (architecture, schemes per stage, training, distillation, device).</param>
    /// <returns>The trainer.</returns>
    /// <exception cref="ArgumentException">An option is not valid.</exception>
    public static LsQuantResNetTrainer LsQuantResNet(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        LsQuantResNetTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new LsQuantResNetTrainer(MLNetInternals.GetEnvironment(catalog), options);
    }

    /// <summary>
    /// Replaces each row of a float vector column by its least-squares quantization with per-row scalars
    /// (for example to compress embeddings), or by its codes.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The column to read: a known-size vector of Single. <see langword="null"/> means
    /// <paramref name="outputColumnName"/>.</param>
    /// <param name="scheme">The scheme: <c>ls-1</c> (default), <c>ls-2</c>, <c>ls-T</c> or <c>gf-k</c>.</param>
    /// <param name="output">The reconstruction (default) or the codes (packed sign bits plus a scalars column).</param>
    /// <returns>The estimator.</returns>
    /// <exception cref="ArgumentException">The scheme is not a valid quantizing scheme.</exception>
    public static LsQuantizingEstimator LsQuantize(this TransformsCatalog catalog, string outputColumnName,
        string? inputColumnName = null, string scheme = "ls-1", LsQuantizeOutput output = LsQuantizeOutput.Reconstruction)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new LsQuantizingEstimator(outputColumnName, inputColumnName ?? outputColumnName, QuantScheme.Parse(scheme), output);
    }

    /// <summary>
    /// Loads IDX files (MNIST, Fashion-MNIST; gzipped or not) as rows with <c>Label</c> (text) and
    /// <c>Features</c> (vector of Single, shape [1, rows, cols], values 0..255).
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="imagesPath">IDX image file.</param>
    /// <param name="labelsPath">IDX label file.</param>
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
    /// <param name="root">The folder.</param>
    /// <returns>The data.</returns>
    /// <exception cref="System.IO.DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FormatException">It holds no class sub-folders with images.</exception>
    public static IDataView LoadFromImageFolder(this DataOperationsCatalog catalog, string root)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog.LoadFromEnumerable(ImageFolder.List(root));
    }
}
