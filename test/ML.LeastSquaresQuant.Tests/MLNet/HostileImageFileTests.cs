using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>
/// Damaged image files scored through a saved LoadImages → ResizeImages → ExtractPixels → LsQuantResNet pipeline,
/// each in a capped child process: a managed exception or a valid score, never a crash, hang or memory-cap hit.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class HostileImageFileTests
{
    [TestMethod]
    public void TestDamagedImagesGiveManagedErrorsOrValidScores()
    {
        string root = Path.Combine(Path.GetTempPath(), "lsq-hostile-img-" + Guid.NewGuid().ToString("N"));
        try
        {
            var rows = PngClassFolders.Write(root, perClass: 4, size: 8, seed: 3);
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var options = new LsQuantResNetTrainer.Options { Width = 2, UseFourthStage = false, Epochs = 1, BatchSize = 4, CropPadding = 0 };
            var model = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
                .Append(ml.Transforms.ResizeImages("Image", 8, 8))
                .Append(ml.Transforms.ExtractPixels("Features", "Image"))
                .Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                .Fit(data);
            string modelPath = Path.Combine(root, "model.zip");
            ml.Model.Save(model, data.Schema, modelPath);

            var png = File.ReadAllBytes(rows[0].ImagePath);
            var cases = new (string Name, byte[]? Bytes)[]
            {
                ("valid", png),
                ("empty", []),
                ("truncated-8", png[..8]),
                ("truncated-20", png[..20]),
                ("truncated-33", png[..33]),
                ("truncated-half", png[..(png.Length / 2)]),
                ("truncated-end", png[..^10]),
                ("not-an-image", "this is not an image\n"u8.ToArray()),
                ("random", Enumerable.Range(0, 500).Select(i => (byte)(i * 73 % 251)).ToArray()),
                ("1x1", Dimensions(png, 1, 1)),
                ("huge-2147483647", Dimensions(png, int.MaxValue, int.MaxValue)),
                ("huge-30000", Dimensions(png, 30000, 30000)),
                ("huge-1xmax", Dimensions(png, 1, int.MaxValue)),
                ("zero-size", Dimensions(png, 0, 0)),
                ("missing", null),
            };
            var files = cases.Select((c, i) =>
            {
                string path = Path.Combine(root, $"case{i:D2}.png");
                if (c.Bytes is not null)
                {
                    File.WriteAllBytes(path, c.Bytes);
                }
                return (c.Name, path);
            }).ToList();
            files.Add(("directory", root));

            var results = HostileProbeRunner.Run(files, expectedOk: "", command: "score-images " + modelPath);

            foreach (var r in results)
            {
                Console.WriteLine($"  {r.Case}: {r.Outcome}: {r.Output}");
            }
            var bad = results.Where(r => r.Outcome is HostileOutcome.Crash or HostileOutcome.Hang or HostileOutcome.MemoryCap).ToList();
            Assert.IsEmpty(bad, string.Join("\n", bad.Select(r => $"{r.Case}: {r.Outcome}: {r.Output}")));
            foreach (var r in results.Where(r => r.Output.StartsWith("ok ", StringComparison.Ordinal)))
            {
                var scores = r.Output[3..].Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                Assert.IsTrue(scores.All(float.IsFinite) && Math.Abs(scores.Sum() - 1) < 1e-4, $"{r.Case}: invalid scores {r.Output}");
            }
            Assert.StartsWith("ok ", results.Single(r => r.Case == "valid").Output);
            Assert.StartsWith("error ", results.Single(r => r.Case == "missing").Output);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // The PNG with its IHDR width and height replaced and the chunk's CRC recomputed, so a decoder believes them.
    private static byte[] Dimensions(byte[] png, int width, int height)
    {
        var copy = (byte[])png.Clone();
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(29), Crc32(copy.AsSpan(12, 17)));
        return copy;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }
        return ~crc;
    }
}
