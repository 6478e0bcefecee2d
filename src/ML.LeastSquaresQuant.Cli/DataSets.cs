using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.MLNet;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>Training and test data for the datasets a config can name; every view has Label (text) and Features.</summary>
internal static class DataSets
{
    public static readonly string[] Names = ["fashion-mnist", "mnist", "cifar10", "cifar100", "image-folder"];

    private static readonly string[] Cifar10Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static (IDataView Train, IDataView Test) Load(MLContext ml, DataConfig d)
    {
        var (train, test) = d.Dataset switch
        {
            "fashion-mnist" => Idx(ml, d.Path ?? FashionMnist.DefaultFolder, FashionMnist.ClassNames),
            "mnist" => Idx(ml, Required(d), null),
            "cifar10" => (ml.Data.LoadFromCifarBinary(CifarFormat.Cifar10, Enumerable.Range(1, 5).Select(i => Path.Combine(Required(d), $"data_batch_{i}.bin")).ToArray(), classNames: Cifar10Classes),
                          ml.Data.LoadFromCifarBinary(CifarFormat.Cifar10, [Path.Combine(Required(d), "test_batch.bin")], classNames: Cifar10Classes)),
            "cifar100" => (ml.Data.LoadFromCifarBinary(CifarFormat.Cifar100, [Path.Combine(Required(d), "train.bin")], d.CoarseLabels),
                           ml.Data.LoadFromCifarBinary(CifarFormat.Cifar100, [Path.Combine(Required(d), "test.bin")], d.CoarseLabels)),
            _ => (Folder(ml, Path.Combine(Required(d), "train"), d), Folder(ml, Path.Combine(Required(d), "test"), d)),
        };
        if (d.TrainLimit is int trainLimit)
        {
            train = ml.Data.TakeRows(train, trainLimit);
        }
        if (d.TestLimit is int testLimit)
        {
            test = ml.Data.TakeRows(test, testLimit);
        }
        return (train, test);
    }

    /// <summary>LoadImages → ResizeImages → ExtractPixels into Features, for image files.</summary>
    public static ITransformer ImagePreparation(MLContext ml, IDataView listing, int channels, int height, int width) =>
        ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", width, height))
            .Append(ml.Transforms.ExtractPixels("Features", "Image",
                colorsToExtract: channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb))
            .Fit(listing);

    private static IDataView Folder(MLContext ml, string root, DataConfig d)
    {
        var listing = ml.Data.LoadFromImageFolder(root);
        return ImagePreparation(ml, listing, d.Channels, d.ImageSize, d.ImageSize).Transform(listing);
    }

    private static (IDataView, IDataView) Idx(MLContext ml, string folder, IReadOnlyList<string>? classes) =>
        (ml.Data.LoadFromIdx(Find(folder, "train-images-idx3-ubyte"), Find(folder, "train-labels-idx1-ubyte"), classes),
         ml.Data.LoadFromIdx(Find(folder, "t10k-images-idx3-ubyte"), Find(folder, "t10k-labels-idx1-ubyte"), classes));

    private static string Find(string folder, string name)
    {
        string plain = Path.Combine(folder, name);
        return File.Exists(plain + ".gz") ? plain + ".gz" : plain;
    }

    private static string Required(DataConfig d) =>
        d.Path ?? throw new ConfigException($"data.path is required for dataset '{d.Dataset}'.");
}
