using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>LsQuantize on non-finite, short and empty rows, and on a damaged saved stream.</summary>
[TestClass]
public sealed class LsQuantizeBadInputTests
{
    private sealed class Row
    {
        [VectorType(6)]
        public VBuffer<float> Embedding { get; set; }
    }

    private static Row Good(int i) => new() { Embedding = new VBuffer<float>(6, Enumerable.Range(0, 6).Select(j => (float)(i + j * 0.5 - 1)).ToArray()) };

    private static readonly MLContext Ml = new(seed: 1);

    private static ITransformer Fit() => Ml.Transforms.LsQuantize("Quantized", "Embedding", "ls-2").Fit(Ml.Data.LoadFromEnumerable(new[] { Good(0), Good(1) }));

    private static string Messages(Exception ex) => ex.InnerException is null ? ex.Message : ex.Message + " | " + Messages(ex.InnerException);

    private static string TransformError(Row[] rows)
    {
        var model = Fit();
        var error = Assert.Throws<Exception>(() => model.Transform(Ml.Data.LoadFromEnumerable(rows)).GetColumn<VBuffer<float>>("Quantized").ToArray());
        return Messages(error);
    }

    [TestMethod]
    [DataRow(float.NaN, "NaN")]
    [DataRow(float.PositiveInfinity, "Infinity")]
    [DataRow(float.NegativeInfinity, "-Infinity")]
    public void TestNonFiniteValueNamesItsRow(float value, string shown)
    {
        var bad = Good(3).Embedding.DenseValues().ToArray();
        bad[4] = value;
        var rows = new[] { Good(0), Good(1), Good(2), new Row { Embedding = new VBuffer<float>(6, bad) } };
        var message = TransformError(rows);
        StringAssert.Contains(message, $"Row 3 of column 'Embedding' holds {shown} at index 4");
    }

    [TestMethod]
    public void TestShortAndEmptyRowsAreRefused()
    {
        StringAssert.Contains(TransformError([Good(0), new Row { Embedding = new VBuffer<float>(0, []) }]), "holds 0 values in row 1");
        StringAssert.Contains(TransformError([new Row { Embedding = new VBuffer<float>(3, [1f, 2f, 3f]) }]), "holds 3 values in row 0");
    }

    [TestMethod]
    public void TestDamagedStreamNamesTransformAndField()
    {
        var model = Fit();
        using var saved = new MemoryStream();
        Ml.Model.Save(model, Ml.Data.LoadFromEnumerable(new[] { Good(0) }).Schema, saved);
        using var damaged = new MemoryStream();
        damaged.Write(saved.ToArray());
        using (var zip = new ZipArchive(damaged, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith("/LsQuantPayload", StringComparison.Ordinal));
            byte[] payload;
            using (var read = entry.Open())
            using (var copy = new MemoryStream())
            {
                read.CopyTo(copy);
                payload = copy.ToArray();
            }
            string name = entry.FullName;
            entry.Delete();
            using var write = zip.CreateEntry(name).Open();
            // Cut inside the scheme string: the output and input column names survive.
            write.Write(payload.AsSpan(0, 1 + "Quantized".Length + 1 + "Embedding".Length + 2));
        }
        damaged.Position = 0;
        var error = Assert.ThrowsExactly<DamagedModelException>(() => Ml.Model.LoadLsQuantModel(damaged, out _));
        StringAssert.Contains(error.Message, "LsQuantize model");
        StringAssert.Contains(error.Message, "(the quantization scheme)");
    }
}
