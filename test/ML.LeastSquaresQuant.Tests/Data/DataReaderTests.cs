using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.Data;
using ML.LeastSquaresQuant.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Data;

[TestClass]
public sealed class DataReaderTests
{
    private string _dir = "";

    [TestInitialize]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "lsq-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    private static byte[] Pattern(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 37 % 251)).ToArray();

    [TestMethod]
    [DataRow("images.idx3-ubyte", "labels.idx1-ubyte")]
    [DataRow("images.idx3-ubyte.gz", "labels.idx1-ubyte.gz")]
    public void TestIdxRoundTripAndDataView(string imagesName, string labelsName)
    {
        string images = Path.Combine(_dir, imagesName), labels = Path.Combine(_dir, labelsName);
        var pixels = Pattern(5 * 4 * 3);
        IdxFile.WriteImages(images, pixels, 4, 3);
        IdxFile.WriteLabels(labels, [2, 0, 1, 2, 1]);
        Assert.AreEqual(imagesName.EndsWith(".gz"), File.ReadAllBytes(images)[0] == 0x1f);

        var (read, count, rows, cols) = IdxFile.ReadImages(images);
        CollectionAssert.AreEqual(pixels, read);
        Assert.AreEqual((5, 4, 3), (count, rows, cols));

        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromIdx(images, labels, ["a", "b", "c"]);
        var features = (VectorDataViewType)view.Schema["Features"].Type;
        CollectionAssert.AreEqual(new[] { 1, 4, 3 }, features.Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { "c", "a", "b", "c", "b" }, view.GetColumn<string>("Label").ToArray());
        var second = view.GetColumn<float[]>("Features").ElementAt(1);
        CollectionAssert.AreEqual(pixels.Skip(12).Take(12).Select(b => (float)b).ToArray(), second);
    }

    [TestMethod]
    public void TestMalformedIdxFilesNameTheFile()
    {
        string path = Path.Combine(_dir, "bad.idx");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 5, 1, 2]);
        var ex = Assert.ThrowsExactly<FormatException>(() => IdxFile.ReadLabels(path));
        StringAssert.Contains(ex.Message, path);
        StringAssert.Contains(ex.Message, "5 labels");
        ex = Assert.ThrowsExactly<FormatException>(() => IdxFile.ReadImages(path));
        StringAssert.Contains(ex.Message, "magic");
        File.WriteAllBytes(path, [0x1f, 0x8b, 1, 2, 3]);
        ex = Assert.ThrowsExactly<FormatException>(() => IdxFile.ReadLabels(path));
        StringAssert.Contains(ex.Message, "gzip");
        Assert.ThrowsExactly<FileNotFoundException>(() => IdxFile.ReadLabels(Path.Combine(_dir, "missing")));

        string images = Path.Combine(_dir, "i.idx"), labels = Path.Combine(_dir, "l.idx");
        IdxFile.WriteImages(images, Pattern(3 * 4), 2, 2);
        IdxFile.WriteLabels(labels, [1, 0]);
        var mismatch = Assert.ThrowsExactly<FormatException>(() => new MLContext().Data.LoadFromIdx(images, labels));
        StringAssert.Contains(mismatch.Message, "3 images");
    }

    [TestMethod]
    public void TestCifar10And100()
    {
        string c10 = Path.Combine(_dir, "data_batch_1.bin");
        var image0 = Pattern(CifarBinary.ImageBytes);
        var image1 = image0.Reverse().ToArray();
        File.WriteAllBytes(c10, [7, .. image0, 3, .. image1]);
        var (pixels, labels) = CifarBinary.Read(CifarFormat.Cifar10, false, c10);
        CollectionAssert.AreEqual(new byte[] { 7, 3 }, labels);
        CollectionAssert.AreEqual(image1, pixels[CifarBinary.ImageBytes..]);

        string c100 = Path.Combine(_dir, "train.bin");
        File.WriteAllBytes(c100, [4, 91, .. image0, 19, 5, .. image1]);
        CollectionAssert.AreEqual(new byte[] { 91, 5 }, CifarBinary.Read(CifarFormat.Cifar100, false, c100).Labels);
        CollectionAssert.AreEqual(new byte[] { 4, 19 }, CifarBinary.Read(CifarFormat.Cifar100, true, c100).Labels);

        var view = new MLContext().Data.LoadFromCifarBinary(CifarFormat.Cifar100, [c100]);
        CollectionAssert.AreEqual(new[] { 3, 32, 32 }, ((VectorDataViewType)view.Schema["Features"].Type).Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { "91", "5" }, view.GetColumn<string>("Label").ToArray());

        File.WriteAllBytes(c10, [1, 2, 3]);
        var ex = Assert.ThrowsExactly<FormatException>(() => CifarBinary.Read(CifarFormat.Cifar10, false, c10));
        StringAssert.Contains(ex.Message, c10);
        File.WriteAllBytes(c10, [12, .. image0]);
        ex = Assert.ThrowsExactly<FormatException>(() => CifarBinary.Read(CifarFormat.Cifar10, false, c10));
        StringAssert.Contains(ex.Message, "label 12");
    }

    [TestMethod]
    public void TestExportedPngFolderReadsBackThroughTheImagePipeline()
    {
        string images = Path.Combine(_dir, "i.idx.gz"), labels = Path.Combine(_dir, "l.idx.gz");
        var pixels = Pattern(6 * 5 * 5);
        IdxFile.WriteImages(images, pixels, 5, 5);
        IdxFile.WriteLabels(labels, [0, 1, 1, 0, 2, 1]);
        string folder = Path.Combine(_dir, "png");
        var written = PngExporter.ExportIdx(images, labels, folder, ["T-shirt/top", "Trouser", "Bag"], limit: 5);
        Assert.HasCount(5, written);
        CollectionAssert.AreEquivalent(new[] { "T-shirt_top", "Trouser", "Bag" }, Directory.GetDirectories(folder).Select(Path.GetFileName).ToArray());

        var ml = new MLContext();
        var listed = ml.Data.LoadFromImageFolder(folder);
        Assert.AreEqual(5, listed.GetColumn<string>("Label").Count());
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", 5, 5))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", colorsToExtract: Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red));
        var paths = listed.GetColumn<string>("ImagePath").ToArray();
        var extracted = pipeline.Fit(listed).Transform(listed).GetColumn<float[]>("Pixels").ToArray();
        for (int i = 0; i < paths.Length; i++)
        {
            int index = int.Parse(Path.GetFileNameWithoutExtension(paths[i]), System.Globalization.CultureInfo.InvariantCulture);
            CollectionAssert.AreEqual(pixels.Skip(index * 25).Take(25).Select(b => (float)b).ToArray(), extracted[i], paths[i]);
        }
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => ImageFolder.List(Path.Combine(_dir, "nope")));
        Directory.CreateDirectory(Path.Combine(_dir, "empty", "class"));
        Assert.ThrowsExactly<FormatException>(() => ImageFolder.List(Path.Combine(_dir, "empty")));
    }
}
