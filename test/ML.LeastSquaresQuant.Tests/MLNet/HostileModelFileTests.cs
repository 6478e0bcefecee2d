using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>
/// The hostile-file campaign: damaged copies of a saved model (truncations, byte flips, forged edits of every
/// field of our stream with the checksum recomputed, wrong versions) are each loaded and scored in a capped child
/// process. None may crash, hang or hit the memory cap; each must be refused with a documented exception or score
/// exactly as the original.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class HostileModelFileTests
{
    private const string Command = "load-score 1 8 8";

    private sealed class ImageRow
    {
        [VectorType(1, 8, 8)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private static readonly string Folder = Path.Combine(Path.GetTempPath(), "lsq-hostile-" + Guid.NewGuid().ToString("N"));

    private static byte[] TrainAndSave()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 12).Select(i => new ImageRow
        {
            Features = Enumerable.Range(0, 64).Select(j => (float)((i % 2) * 60 + (j % 8) * 3 + i % 5)).ToArray(),
            Label = "c" + (i % 2),
        }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new LsQuantResNetTrainer.Options { Width = 4, UseFourthStage = false, Epochs = 1, BatchSize = 4, CropPadding = 0 };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LsQuantResNet(options)).Fit(data);
        string path = Path.Combine(Folder, "original.zip");
        ml.Model.Save(model, data.Schema, path);
        return File.ReadAllBytes(path);
    }

    [TestMethod]
    public void TestDamagedModelFilesAreRefusedOrScoreIdentically()
    {
        Directory.CreateDirectory(Folder);
        try
        {
            var original = TrainAndSave();
            var file = new HostileModelFile(original);
            string expected = HostileProbeRunner.RunOne(Path.Combine(Folder, "original.zip"), Command);
            Assert.StartsWith("ok ", expected, $"the original does not score in the probe: {expected}");
            var cases = Cases(file, original).Select((c, i) =>
            {
                string path = Path.Combine(Folder, $"case{i:D3}.zip");
                File.WriteAllBytes(path, c.Bytes);
                return (c.Name, path);
            }).ToList();

            var results = HostileProbeRunner.Run(cases, expected, Command);

            foreach (var group in results.GroupBy(r => r.Case.Split(' ')[0]))
            {
                Console.WriteLine($"{group.Key}: {group.Count()} cases, " +
                    string.Join(", ", group.GroupBy(r => r.Outcome).Select(o => $"{o.Key} {o.Count()}")));
            }
            foreach (var r in results)
            {
                Console.WriteLine($"  {r.Case}: {r.Outcome}: {r.Output}");
            }
            var bad = results.Where(r => r.Outcome is not (HostileOutcome.Identical or HostileOutcome.Refused)).ToList();
            Assert.IsEmpty(bad, "cases neither refused nor identical:\n" + string.Join("\n", bad.Select(r => $"{r.Case}: {r.Outcome}: {r.Output}")));
            // A forged edit always changes a value the reader must check, so it may never load.
            var loaded = results.Where(r => r.Case.StartsWith("forged", StringComparison.Ordinal) && r.Outcome != HostileOutcome.Refused).ToList();
            Assert.IsEmpty(loaded, "forged edits that loaded:\n" + string.Join("\n", loaded.Select(r => $"{r.Case}: {r.Output}")));
            var unescaped = results.Where(r => r.Output.Any(c => char.IsControl(c) || c == '\uFFFD')).ToList();
            Assert.IsEmpty(unescaped, "messages with raw binary:\n" + string.Join("\n", unescaped.Select(r => r.Case)));
            AssertNames(results, "forged arch-blocks-100000", "BlocksPerStage");
            AssertNames(results, "forged arch-width-2147483647", "Width");
            AssertNames(results, "forged keycount-0", "label key value count");
            var undocumented = results.Where(r => r.Case.StartsWith("forged", StringComparison.Ordinal) && !r.Output.Contains("DamagedModelException", StringComparison.Ordinal)).ToList();
            Assert.IsEmpty(undocumented, "forged edits refused without DamagedModelException:\n" + string.Join("\n", undocumented.Select(r => $"{r.Case}: {r.Output}")));
            AssertUnwrapped(file);
            AssertNames(results, "forged shape-h-2147483647", "image height");
            AssertNames(results, "flip-payload 0", "checksum");
        }
        finally
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    // LoadLsQuantModel hands the user our exception itself, not ML.NET's reflection wrappers.
    private static void AssertUnwrapped(HostileModelFile file)
    {
        var forged = file.Forged(file.Patch(file.Fields.Shape + 4, BitConverter.GetBytes(int.MaxValue)));
        var ml = new MLContext(seed: 1);
        var wrapped = Assert.Throws<Exception>(() => ml.Model.Load(new MemoryStream(forged), out _));
        Assert.IsNotInstanceOfType<DamagedModelException>(wrapped, "ML.NET's own Load wraps the exception (else LoadLsQuantModel is not needed)");
        var error = Assert.ThrowsExactly<DamagedModelException>(() => ml.Model.LoadLsQuantModel(new MemoryStream(forged), out _));
        StringAssert.Contains(error.Message, "the image height is 2147483647");
    }

    private static void AssertNames(List<HostileResult> results, string name, string expected)
    {
        var result = results.Single(r => r.Case == name);
        StringAssert.Contains(result.Output, expected, $"{name} should name the problem");
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Cases(HostileModelFile file, byte[] zip)
    {
        for (int k = 0; k < 30; k++)
        {
            yield return ($"truncate-zip {k}", zip[..(int)((long)zip.Length * k / 30)]);
        }
        for (int k = 0; k < 50; k++)
        {
            var copy = (byte[])zip.Clone();
            copy[4 + (int)((long)(zip.Length - 5) * k / 50)] ^= 0x10;
            yield return ($"flip-zip {k}", copy);
        }
        var payload = file.Payload;
        var f = file.Fields;
        for (int k = 0; k < 15; k++)
        {
            yield return ($"truncate-payload {k}", file.With(file.PayloadEntry, payload[..(int)((long)payload.Length * k / 15)]));
        }
        for (int k = 0; k < 20; k++)
        {
            // Inside the stored weights, where the earlier campaign found silent damage: only the checksum catches these.
            var copy = (byte[])payload.Clone();
            copy[f.State + (int)((long)(f.StateEnd - f.State - 1) * k / 20)] ^= 0x01;
            yield return ($"flip-payload {k}", file.With(file.PayloadEntry, copy));
        }
        foreach (var c in ForgedEdits(file))
        {
            yield return ("forged " + c.Name, file.Forged(c.Payload));
        }
        yield return ("version 0", file.WithVersion(0));
        yield return ("version 3", file.WithVersion(3));
        yield return ("version 99", file.WithVersion(99));
        // Version 1 files (another weights layout) are covered with the kept fixture: PackedModelFileTests.
        yield return ("version 1-of-a-version-2-payload", file.Version1());
    }

    private static IEnumerable<(string Name, byte[] Payload)> ForgedEdits(HostileModelFile file)
    {
        var f = file.Fields;
        int[] ints = [0, -1, int.MaxValue];
        foreach (var (field, at) in new[] { ("c", f.Shape), ("h", f.Shape + 4), ("w", f.Shape + 8) })
        {
            foreach (int v in ints)
            {
                yield return ($"shape-{field}-{v}", file.Patch(at, BitConverter.GetBytes(v)));
            }
        }
        foreach (int v in new[] { 0, -1, int.MaxValue, 1_000_001 })
        {
            yield return ($"keycount-{v}", file.Patch(f.KeyCount, BitConverter.GetBytes(v)));
        }
        foreach (int v in ints)
        {
            yield return ($"channels-{v}", file.Patch(f.Channels, BitConverter.GetBytes(v)));
        }
        foreach (var (name, at, v) in new[] { ("mean-nan", f.Mean, double.NaN), ("mean-inf", f.Mean, double.PositiveInfinity),
            ("std-nan", f.Std, double.NaN), ("std-0", f.Std, 0), ("std-neg", f.Std, -1), ("std-inf", f.Std, double.PositiveInfinity) })
        {
            yield return (name, file.Patch(at, BitConverter.GetBytes(v)));
        }
        yield return ("name-length-7f", file.Patch(0, [0x7F]));
        yield return ("name-length-huge", file.Patch(0, [0xFF, 0xFF, 0xFF, 0xFF, 0x07]));
        long stateLength = f.StateEnd - f.State;
        foreach (long v in new[] { 0, -1, 1L << 30, int.MaxValue, long.MaxValue, stateLength - 1, stateLength + 1 })
        {
            yield return ($"state-length-{v}", file.Patch(f.StateLength, BitConverter.GetBytes(v)));
        }
        foreach (var (name, json) in ArchitectureEdits(f.ArchitectureJson))
        {
            yield return ("arch-" + name, file.ReplaceString(f.Architecture, json));
        }
        yield return ("history-broken", file.ReplaceString(f.History, "{"));
        yield return ("history-wrong", file.ReplaceString(f.History, "[{\"Epoch\": \"x\"}]"));
        foreach (var c in StateEdits(file))
        {
            yield return c;
        }
    }

    private static IEnumerable<(string Name, string Json)> ArchitectureEdits(string json)
    {
        string Set(string property, string value) =>
            Regex.Replace(json, $"\"{property}\":\\s*(\\[[^\\]]*\\]|[^,\\n]+)", $"\"{property}\": {value}");
        foreach (var blocks in new[] { "100000", "1000000000", "2147483647", "0" })
        {
            yield return ($"blocks-{blocks}", Set("BlocksPerStage", $"[{blocks}, 2, 2]"));
        }
        yield return ("blocks-empty", Set("BlocksPerStage", "[]"));
        foreach (var width in new[] { "100000", "2147483647", "0", "-1", "5" })
        {
            yield return ($"width-{width}", Set("Width", width));
        }
        yield return ("inputchannels-1000000000", Set("InputChannels", "1000000000"));
        yield return ("inputchannels-2147483647", Set("InputChannels", "2147483647"));
        yield return ("classes-0", Set("NumClasses", "0"));
        yield return ("classes-2147483647", Set("NumClasses", "2147483647"));
        yield return ("clamp-1e308", Regex.Replace(json, "\"Clamp\":\\s*[^,\\n]+", "\"Clamp\": 1e308"));
        yield return ("lenet-huge", "{\"family\": \"lenet5\", \"InputChannels\": 1, \"NumClasses\": 2, \"ImageSize\": 2147483647}");
        yield return ("not-json", "{");
        yield return ("null", "null");
        yield return ("empty", "");
    }

    private static IEnumerable<(string Name, byte[] Payload)> StateEdits(HostileModelFile file)
    {
        var f = file.Fields;
        var tensors = f.Tensors;
        yield return ("state-count-0", file.Patch(f.State, [0x00]));
        yield return ("state-count-127", file.Patch(f.State, [0x7F]));
        yield return ("state-count-huge", file.Patch(f.State, [0xFF, 0xFF, 0xFF, 0xFF, 0x07]));
        yield return ("state-name-binary", file.Patch(tensors[0].NameAt + 1, [0x01, 0xC3, 0x07]));
        yield return ("state-name-length-huge", file.Patch(tensors[1].NameAt, [0xFF, 0xFF, 0xFF, 0x7F]));
        yield return ("state-dim-0", file.Patch(tensors[0].DimAt, [0x00]));
        yield return ("state-dim-127", file.Patch(tensors[0].DimAt, [0x7F]));
        yield return ("state-dim-huge", file.Patch(tensors[0].DimAt, [0xFF, 0xFF, 0xFF, 0xFF, 0x07]));
        yield return ("state-nan-weight", file.Patch(tensors[0].DataAt, BitConverter.GetBytes(float.NaN)));
        var head = tensors.Last(t => t.Name.EndsWith("fc.weight", StringComparison.Ordinal));
        yield return ("state-inf-head", file.Patch(head.DataAt, BitConverter.GetBytes(float.PositiveInfinity)));
        var variance = tensors.First(t => t.Name.EndsWith("running_var", StringComparison.Ordinal));
        yield return ("state-variance-negative", file.Patch(variance.DataAt, BitConverter.GetBytes(-1f)));
        yield return ("state-variance-nan", file.Patch(variance.DataAt, BitConverter.GetBytes(float.NaN)));
        var packedWeight = tensors.First(t => t.Name.EndsWith(".weight scalars", StringComparison.Ordinal));
        yield return ("state-packed-scalar-negative", file.Patch(packedWeight.DataAt, BitConverter.GetBytes(-1f)));
        yield return ("state-packed-shape", file.Patch(packedWeight.DimAt, BitConverter.GetBytes(int.MaxValue)));
        foreach (var scalars in tensors.Where(t => t.Name.Contains("scalars", StringComparison.Ordinal)).Take(2))
        {
            yield return ($"state-scalars-nan-{scalars.Name}", file.Patch(scalars.DataAt, BitConverter.GetBytes(float.NaN)));
        }
    }
}
