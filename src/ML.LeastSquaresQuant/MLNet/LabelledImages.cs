using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>Turns planar image bytes and labels into an IDataView with <c>Label</c> (text) and <c>Features</c> ([C, H, W] Single, 0..255).</summary>
internal static class LabelledImages
{
    internal sealed class Row
    {
        public string Label { get; set; } = "";

        public float[] Features { get; set; } = [];
    }

    public static IDataView ToDataView(DataOperationsCatalog catalog, byte[] pixels, byte[] labels, int channels, int height, int width,
        IReadOnlyList<string>? classNames)
    {
        int size = channels * height * width;
        if (classNames is not null && labels.Any(l => l >= classNames.Count))
        {
            throw new ArgumentException($"A label is {labels.Max()} but only {classNames.Count} class names were given.", nameof(classNames));
        }
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, channels, height, width);
        return catalog.LoadFromEnumerable(Rows(pixels, labels, size, classNames), definition);
    }

    private static IEnumerable<Row> Rows(byte[] pixels, byte[] labels, int size, IReadOnlyList<string>? classNames)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            var features = new float[size];
            for (int j = 0; j < size; j++)
            {
                features[j] = pixels[(long)i * size + j];
            }
            yield return new Row
            {
                Label = classNames?[labels[i]] ?? labels[i].ToString(System.Globalization.CultureInfo.InvariantCulture),
                Features = features,
            };
        }
    }
}
