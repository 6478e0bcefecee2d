using System;
using Microsoft.ML;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>Catalog extension methods: the entry points ML.NET users call on <see cref="MLContext"/>.</summary>
public static class LsQuantCatalog
{
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
