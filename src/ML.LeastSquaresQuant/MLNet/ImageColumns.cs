using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>The [C, H, W] shape of the images in a features column.</summary>
internal sealed record ImageShape(int Channels, int Height, int Width)
{
    public int Size => Channels * Height * Width;

    public override string ToString() => $"[{Channels}, {Height}, {Width}]";
}

/// <summary>Reads and checks the features and label columns the image trainer and transformer work on.</summary>
internal static class ImageColumns
{
    private const string KeyValuesKind = "KeyValues";

    /// <summary>The image shape of a features column: from the options when given, else from the vector's dimensions.</summary>
    public static ImageShape ResolveShape(DataViewSchema.Column? features, string name, int channels, int height, int width)
    {
        if (features is null)
        {
            throw new ArgumentOutOfRangeException(nameof(features), $"Features column '{name}' is not in the data.");
        }
        if (features.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType item } vector
            || item != NumberDataViewType.Single || !vector.IsKnownSize)
        {
            throw new ArgumentOutOfRangeException(nameof(features),
                $"Features column '{name}' must be a known-size vector of Single (for example from ExtractPixels) but is {features.Value.Type}.");
        }
        ImageShape shape;
        if (channels > 0 && height > 0 && width > 0)
        {
            shape = new ImageShape(channels, height, width);
        }
        else if (vector.Dimensions.Length == 3)
        {
            shape = new ImageShape(vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2]);
        }
        else
        {
            throw new ArgumentOutOfRangeException(nameof(features),
                $"Features column '{name}' is a flat vector of {vector.Size} values with an unknown image shape: " +
                "set ImageChannels, ImageHeight and ImageWidth in the options, or use ExtractPixels, which gives [C, H, W].");
        }
        if (shape.Size != vector.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(features),
                $"Features column '{name}' has {vector.Size} values but the image shape {shape} needs {shape.Size}.");
        }
        return shape;
    }

    /// <summary>The class count and key values (as text) of a key-typed label column.</summary>
    public static (int Classes, string[]? KeyValues) ResolveLabel(DataViewSchema.Column? label, string name)
    {
        if (label is null)
        {
            throw new ArgumentOutOfRangeException(nameof(label), $"Label column '{name}' is not in the data.");
        }
        if (label.Value.Type is not KeyDataViewType key || key.RawType != typeof(uint))
        {
            throw new ArgumentOutOfRangeException(nameof(label),
                $"Label column '{name}' must be a key type (UInt32 keys, as MapValueToKey gives) but is {label.Value.Type}.");
        }
        if (key.Count < 2 || key.Count > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(label), $"Label column '{name}' has {key.Count} classes; a classifier needs at least 2.");
        }
        return ((int)key.Count, KeyValuesOf(label.Value));
    }

    /// <summary>The key values of a key column as text, or null when it has none.</summary>
    public static string[]? KeyValuesOf(DataViewSchema.Column column)
    {
        var kv = column.Annotations.Schema.GetColumnOrNull(KeyValuesKind);
        if (kv is null || kv.Value.Type is not VectorDataViewType { ItemType: TextDataViewType })
        {
            return null;
        }
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.Annotations.GetValue(KeyValuesKind, ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }

    /// <summary>Reads the whole data set into one float32 image tensor and one label tensor.</summary>
    public static ImageDataset Read(IDataView data, string featureColumn, string labelColumn, ImageShape shape, int classes, string role)
    {
        var features = data.Schema[featureColumn];
        var label = data.Schema[labelColumn];
        // Sized from the row count when the view knows it, so the pixels are neither regrown nor copied at the end.
        long? knownRows = data.GetRowCount();
        int capacity = knownRows is long r && r * shape.Size <= Array.MaxLength ? (int)r : 0;
        var pixels = new float[(long)capacity * shape.Size];
        var labels = new List<long>(capacity);
        using (var cursor = data.GetRowCursor([features, label]))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
            var getLabel = cursor.GetGetter<uint>(label);
            var buffer = default(VBuffer<float>);
            var dense = new float[shape.Size];
            uint key = 0;
            long row = 0;
            while (cursor.MoveNext())
            {
                getLabel(ref key);
                if (key == 0)
                {
                    throw new ArgumentOutOfRangeException(labelColumn,
                        $"Row {row} of the {role} data has a missing label in column '{labelColumn}' (a value MapValueToKey did not know).");
                }
                getFeatures(ref buffer);
                buffer.CopyTo(dense);
                foreach (var v in dense)
                {
                    if (!float.IsFinite(v))
                    {
                        throw new ArgumentOutOfRangeException(featureColumn, $"Row {row} of the {role} data has a NaN or infinite value in column '{featureColumn}'.");
                    }
                }
                if ((long)(labels.Count + 1) * shape.Size > pixels.Length)
                {
                    // Unknown or understated row count: grow geometrically.
                    Array.Resize(ref pixels, (int)Math.Min(Array.MaxLength, Math.Max(2L * pixels.Length, (long)(labels.Count + 1) * shape.Size)));
                }
                dense.CopyTo(pixels, (long)labels.Count * shape.Size);
                labels.Add(key - 1);
                row++;
            }
        }
        if (labels.Count == 0)
        {
            throw new ArgumentException($"The {role} data is empty: it has no rows.", nameof(data));
        }
        if (pixels.Length != (long)labels.Count * shape.Size)
        {
            Array.Resize(ref pixels, (int)((long)labels.Count * shape.Size));
        }
        var images = torch.tensor(pixels, [labels.Count, shape.Channels, shape.Height, shape.Width]);
        return new ImageDataset(images, torch.tensor(labels.ToArray()), classes);
    }

    /// <summary>Per-channel mean and standard deviation of a data set's images.</summary>
    public static (double[] Mean, double[] Std) ChannelStatistics(ImageDataset data)
    {
        using var scope = NewDisposeScope();
        var x = data.Images.to_type(ScalarType.Float64).transpose(0, 1).reshape(data.Channels, -1);
        var mean = x.mean([1L]).data<double>().ToArray();
        var std = x.std(1).data<double>().ToArray().Select(s => s > 1e-12 ? s : 1.0).ToArray();
        return (mean, std);
    }
}
