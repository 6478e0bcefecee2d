using System.Collections.Generic;
using System.IO;

namespace ML.LeastSquaresQuant.Data;

/// <summary>Fashion-MNIST (Zalando, MIT licence): 60k + 10k grey 28×28 images of 10 clothing classes.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Mean of the training pixels scaled to [0, 1].</summary>
    public const double Mean = 0.2860;

    /// <summary>Standard deviation of the training pixels scaled to [0, 1].</summary>
    public const double Std = 0.3530;

    /// <summary>Class names in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The four file paths in <paramref name="folder"/>.</summary>
    /// <param name="folder">The folder holding the gzipped IDX files.</param>
    /// <returns>Training images and labels, test images and labels.</returns>
    public static (string TrainImages, string TrainLabels, string TestImages, string TestLabels) Files(string folder = DefaultFolder) =>
        (Path.Combine(folder, "train-images-idx3-ubyte.gz"), Path.Combine(folder, "train-labels-idx1-ubyte.gz"),
         Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
}
