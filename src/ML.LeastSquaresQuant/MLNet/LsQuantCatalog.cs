using System;
using Microsoft.ML;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// Catalog extension methods for training and quantizing: the entry points ML.NET users call on
/// <see cref="MLContext"/>. The data loaders are in <see cref="LsQuantDataCatalog"/>.
/// </summary>
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
}
