using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.MLNet;

[TestClass]
public sealed class LsQuantizeTests
{
    private sealed class Row
    {
        [VectorType(12)]
        public float[] Embedding { get; set; } = [];
    }

    private static Row[] Rows() => TensorTestData.AwkwardRows(16, 12, seed: 21)
        .Select((r, i) => new Row { Embedding = Enumerable.Range(0, 12).Select(j => (float)(r[j % r.Length] + 0.1 * i - 0.05 * j)).ToArray() })
        .ToArray();

    private static float[][] Column(IDataView view, string name) =>
        view.GetColumn<VBuffer<float>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    [TestMethod]
    [DataRow("ls-1")]
    [DataRow("ls-2")]
    [DataRow("ls-T")]
    [DataRow("gf-3")]
    public void TestValuesEqualLeastSquaresQuantizerAndSurviveSaveLoad(string scheme)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LsQuantize("Quantized", "Embedding", scheme).Fit(data);
        var output = Column(model.Transform(data), "Quantized");

        var q = QuantScheme.Parse(scheme);
        using (var scope = NewDisposeScope())
        {
            var matrix = TorchSharp.torch.tensor(rows.SelectMany(r => r.Embedding).ToArray(), [rows.Length, 12]);
            var expected = LeastSquaresQuantizer.Quantize(matrix, LeastSquaresQuantizer.ComputeScalars(matrix, q), q).data<float>().ToArray();
            CollectionAssert.AreEqual(expected, output.SelectMany(r => r).ToArray(), $"{scheme}: transform differs from LeastSquaresQuantizer");
        }

        string path = Path.Combine(Path.GetTempPath(), $"lsq-quantize-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var loaded = ml.Model.Load(path, out var schema);
            Assert.AreEqual(data.Schema.Count, schema.Count);
            CollectionAssert.AreEqual(output.SelectMany(r => r).ToArray(), Column(loaded.Transform(data), "Quantized").SelectMany(r => r).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void TestCodesDecodeToTheReconstruction()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var recon = Column(ml.Transforms.LsQuantize("Q", "Embedding", "ls-T").Fit(data).Transform(data), "Q");
        var coded = ml.Transforms.LsQuantize("Q", "Embedding", "ls-T", LsQuantizeOutput.Codes).Fit(data).Transform(data);
        var signs = coded.GetColumn<VBuffer<byte>>("Q").Select(v => v.DenseValues().ToArray()).ToArray();
        var scalars = Column(coded, "QScalars");
        Assert.HasCount(3, signs[0], "2 binary vectors × 12 elements = 24 bits = 3 bytes");
        for (int r = 0; r < signs.Length; r++)
        {
            for (int j = 0; j < 12; j++)
            {
                float value = 0;
                for (int i = 0; i < 2; i++)
                {
                    int bit = i * 12 + j;
                    value += ((signs[r][bit >> 3] >> (bit & 7)) & 1) == 1 ? scalars[r][0] : -scalars[r][0];
                }
                Assert.AreEqual(recon[r][j], value, $"row {r} element {j}");
            }
        }
    }

    [TestMethod]
    public void TestBadInput()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var unknown = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.LsQuantize("Q", "Embedding", "ls-3"));
        StringAssert.Contains(unknown.Message, "ls-3");
        var missing = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.LsQuantize("Q", "Nope").Fit(data));
        StringAssert.Contains(missing.Message, "Nope");
        Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.LsQuantize("Q", "Embedding", "fp"));
    }
}
