using System;
using Microsoft.ML;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>The estimator behind <see cref="LsQuantCatalog.LsQuantize"/>; it learns nothing, so Fit only checks the schema.</summary>
public sealed class LsQuantizingEstimator : IEstimator<LsQuantizeTransformer>
{
    private readonly LsQuantizeTransformer _transformer;

    internal LsQuantizingEstimator(string outputColumnName, string inputColumnName, QuantScheme scheme, LsQuantizeOutput output)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        ArgumentException.ThrowIfNullOrEmpty(inputColumnName);
        _transformer = new LsQuantizeTransformer(outputColumnName, inputColumnName, scheme, output);
    }

    /// <inheritdoc/>
    public LsQuantizeTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _transformer.GetOutputSchema(input.Schema);
        return _transformer;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        string name = _transformer.InputColumnName;
        if (SchemaShapeLookup.Find(inputSchema, name) is not { } column)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Input column '{name}' is not in the data.");
        }
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != Microsoft.ML.Data.NumberDataViewType.Single)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSchema),
                $"Input column '{name}' must be a known-size vector of Single but is {column.Kind} of {column.ItemType}.");
        }
        var columns = new System.Collections.Generic.Dictionary<string, SchemaShape.Column>();
        foreach (var c in inputSchema)
        {
            columns[c.Name] = c;
        }
        if (_transformer.Output == LsQuantizeOutput.Reconstruction)
        {
            columns[_transformer.OutputColumnName] = MLNetInternals.ShapeColumn(_transformer.OutputColumnName,
                SchemaShape.Column.VectorKind.Vector, Microsoft.ML.Data.NumberDataViewType.Single, false);
        }
        else
        {
            columns[_transformer.OutputColumnName] = MLNetInternals.ShapeColumn(_transformer.OutputColumnName,
                SchemaShape.Column.VectorKind.Vector, Microsoft.ML.Data.NumberDataViewType.Byte, false);
            columns[_transformer.ScalarsColumnName] = MLNetInternals.ShapeColumn(_transformer.ScalarsColumnName,
                SchemaShape.Column.VectorKind.Vector, Microsoft.ML.Data.NumberDataViewType.Single, false);
        }
        return new SchemaShape(columns.Values);
    }
}
