using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.NativeProbe;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>Format version 2 (bit-planes) and the version 1 fixture; the binary engine against the float path.</summary>
[TestClass]
[DoNotParallelize]
public sealed class PackedModelFileTests
{
    internal static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "format-v1", name);

    private static float[][] Scores(MLContext ml, ITransformer model) =>
        ml.Data.CreateEnumerable<Fixtures.Scores>(model.Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(8))), reuseRowObject: false)
            .Select(s => s.Score).ToArray();

    private static LsQuantResNetTransformer Resnet(ITransformer model) =>
        ((TransformerChain<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single();

    [TestMethod]
    public void TestVersion1FileScoresExactlyAsBefore()
    {
        var ml = new MLContext(seed: 1);
        var expected = File.ReadAllLines(FixturePath("scores.txt"))
            .Select(l => l.Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        // With no layer on the engine or its float path, every layer scores as the float convolution of
        // reconstructed tensors, the path that wrote the fixture. One image per network call, as then (a batch
        // rounds differently).
        var model = ml.Model.Load(FixturePath("model.zip"), out _);
        Assert.IsTrue(Resnet(model).UseBinaryEngine, "the engine is the default");
        float[][] simulated;
        using (ProcessSwitches.BinaryEngineNowhere())
        {
            Resnet(model).UseBinaryEngine = false;
            var predictor = ml.Model.CreatePredictionEngine<Fixtures.Row, Fixtures.Scores>(model);
            simulated = Fixtures.Rows(8).Select(r => predictor.Predict(r).Score).ToArray();
        }

        // With every layer on the engine, the same file scores within rounding of the old float path.
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var resnet = Resnet(model);
        resnet.UseBinaryEngine = true;
        var engine = Scores(ml, model);
        Assert.IsTrue(engine.Zip(simulated).Any(p => !p.First.SequenceEqual(p.Second)),
            "the engine ran: its rounding differs from the old float path's somewhere");
        for (int i = 0; i < expected.Length; i++)
        {
            CollectionAssert.AreEqual(expected[i], simulated[i], $"row {i}: training's arithmetic scores a version 1 file exactly as before");
            for (int c = 0; c < expected[i].Length; c++)
            {
                Assert.AreEqual(expected[i][c], engine[i][c], 1e-4, $"row {i} class {c}: the engine");
            }
        }
    }

    [TestMethod]
    public void TestVersion1FileWithANaNWeightIsRefused()
    {
        var file = new HostileModelFile(File.ReadAllBytes(FixturePath("model.zip")));
        Assert.IsFalse(file.HasChecksum, "the fixture is a version 1 file");
        var damaged = file.Forged(file.Patch(file.Fields.Tensors[0].DataAt, BitConverter.GetBytes(float.NaN)));
        var ml = new MLContext(seed: 1);
        var error = Assert.ThrowsExactly<DamagedModelException>(() => ml.Model.LoadLsQuantModel(new MemoryStream(damaged), out _));
        StringAssert.Contains(error.Message, "NaN");
    }

    [TestMethod]
    public void TestVersion2FileIsPackedAndScoresLikeTheTrainedModel()
    {
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        string dir = Path.Combine(Path.GetTempPath(), "lsq-v2-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A fresh model of the fixture's kind, saved with today's format.
            Assert.AreEqual(0, Fixtures.Make(dir));
            var ml = new MLContext(seed: 1);
            string path = Path.Combine(dir, "model.zip");
            var model = ml.Model.Load(path, out _);
            var resnet = Resnet(model);
            var saved = File.ReadAllLines(Path.Combine(dir, "scores.txt"));
            resnet.UseBinaryEngine = false;
            var simulated = Scores(ml, model);
            resnet.UseBinaryEngine = true;
            var engine = Scores(ml, model);
            for (int i = 0; i < simulated.Length; i++)
            {
                CollectionAssert.AreEqual(saved[i].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray(),
                    engine[i], $"row {i}: scores after a second load");
                CollectionAssert.AreEqual(simulated[i], engine[i], $"row {i}: the float path gives the engine's bits");
            }
            // The weights entry is the packed size plus the zip's and ML.NET's own overhead.
            using var zip = ZipFile.OpenRead(path);
            long ours = zip.Entries.Where(e => e.FullName.Contains("LsQuantResNet", StringComparison.OrdinalIgnoreCase)
                || e.Length > 10_000).Sum(e => e.Length);
            // 8 KiB covers what a tiny model's names, architecture and history add; see docs/model-format.md for ratios.
            Assert.IsLessThanOrEqualTo((long)(1.15 * resnet.Size.QuantizedBytes) + 8192, ours,
                $"uncompressed model stream {ours} bytes vs {resnet.Size.QuantizedBytes} quantized bytes, {resnet.Size.FullPrecisionBytes} as float32");
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [TestMethod]
    public void TestAFlippedWeightByteIsRefused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lsq-v2-flip-" + Guid.NewGuid().ToString("N"));
        try
        {
            Assert.AreEqual(0, Fixtures.Make(dir));
            string path = Path.Combine(dir, "model.zip");
            using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
            {
                var entry = zip.Entries.OrderByDescending(e => e.Length).First();
                byte[] bytes;
                using (var s = entry.Open())
                using (var m = new MemoryStream())
                {
                    s.CopyTo(m);
                    bytes = m.ToArray();
                }
                bytes[bytes.Length / 2] ^= 0x10;
                string name = entry.FullName;
                entry.Delete();
                using var w = zip.CreateEntry(name).Open();
                w.Write(bytes);
            }
            var ml = new MLContext(seed: 1);
            var ex = Assert.Throws<Exception>(() => ml.Model.Load(path, out _));
            var format = ex as FormatException;
            for (var inner = ex; format is null && inner is not null; inner = inner.InnerException)
            {
                format = inner as FormatException;
            }
            Assert.IsNotNull(format, ex.ToString());
            StringAssert.Contains(format.Message, "checksum");
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
