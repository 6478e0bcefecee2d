using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using ML.LeastSquaresQuant.Tests.Infrastructure;

namespace ML.LeastSquaresQuant.Tests.Native;

/// <summary>
/// The guard against oneDNN's defects (docs/robustness.md): every convolution route and every network shape, in
/// child processes capped at each oneDNN ISA level this CPU supports (the cap is read once at process start).
/// </summary>
[TestClass]
public sealed class ConvolutionGuardTests
{
    private const string Probe = "ML.LeastSquaresQuant.NativeProbe";
    private static readonly Dictionary<string, Dictionary<string, double[]>> RunsByLevel = [];

    /// <summary>oneDNN ISA caps for this CPU: SSE4.1 and AVX2 everywhere they exist, AVX-512 where it exists, and no cap.</summary>
    public static IEnumerable<object[]> Levels()
    {
        string flags = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "" : "";
        var has = new HashSet<string>(flags.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries));
        if (has.Contains("sse4_1")) { yield return ["SSE41"]; }
        if (has.Contains("avx2")) { yield return ["AVX2"]; }
        if (has.Contains("avx512f") && has.Contains("avx512bw") && has.Contains("avx512vl") && has.Contains("avx512dq"))
        {
            yield return ["AVX512_CORE"];
        }
        yield return ["DEFAULT"];
    }

    private static ChildProcess.Result RunProbe(string level, params string[] args) =>
        ChildProcess.Run(Probe, args,
            level == "DEFAULT" ? null : new Dictionary<string, string> { ["ONEDNN_MAX_CPU_ISA"] = level },
            TimeSpan.FromMinutes(6));

    [TestMethod]
    [DynamicData(nameof(Levels))]
    public void TestEveryConvolutionRouteMatchesFloat64(string level)
    {
        // Kernels 1, 3, 5; strides 1, 2; channel counts on both sides of the vector blocks; NCHW and NHWC input;
        // forward, input and weight gradient of a batch of two and the gradient-free forward of one image.
        var result = RunProbe(level, "conv-sweep", "guarded", "1,3,5");
        Assert.IsFalse(result.TimedOut, "the sweep hung");
        Assert.AreEqual(0, result.ExitCode, $"ISA {level}: {result.Output}\n{result.Error}");
        StringAssert.Contains(result.Output, "0 bad of 1200");
        // Wider layers on small images, as in a network's last stages: on AVX2 oneDNN's channels-last forward gave
        // wrong values here (48 or 100 output channels on 3×3 or 6×6 images).
        var wide = RunProbe(level, "conv-sweep", "guarded", "1,3", "wide", "6");
        Assert.AreEqual(0, wide.ExitCode, $"ISA {level}: {wide.Output}\n{wide.Error}");
        StringAssert.Contains(wide.Output, "0 bad of 288");
    }

    [TestMethod]
    [DynamicData(nameof(Levels))]
    public void TestEveryNetworkShapeTrainsAndScoresAlikeAtEachIsaLevel(string level)
    {
        var runs = NetworkRuns(level);
        var reference = NetworkRuns("DEFAULT");
        Assert.HasCount(reference.Count, runs);
        foreach (var (name, values) in reference)
        {
            var mine = runs[name];
            Assert.HasCount(values.Length, mine, name);
            // The first loss is a forward pass of untouched weights: only rounding may differ between kernels.
            Assert.AreEqual(values[0], mine[0], 1e-4 * Math.Abs(values[0]), $"{name}: first loss at {level}");
            // Later values pass through quantizer decisions that rounding can flip: equivalent, not identical, within a
            // tenth of the run's own scale (the defects guarded against gave errors of 15-70 % or NaN).
            double scale = Math.Max(1, values.Skip(1).Max(Math.Abs));
            for (int i = 1; i < values.Length; i++)
            {
                Assert.AreEqual(values[i], mine[i], 0.1 * scale, $"{name}: value {i} at {level}");
            }
        }
        var lenet = runs["lenet5-ls2ls1-28px"];
        Assert.IsLessThan(lenet[0] - 0.2, lenet[3], "LeNet-5's loss falls over four steps");
    }

    private static Dictionary<string, double[]> NetworkRuns(string level)
    {
        lock (RunsByLevel)
        {
            if (RunsByLevel.TryGetValue(level, out var cached))
            {
                return cached;
            }
            var result = RunProbe(level, "networks");
            Assert.IsFalse(result.TimedOut, $"ISA {level}: training hung");
            Assert.AreEqual(0, result.ExitCode, $"ISA {level}: {result.Output}\n{result.Error}");
            // Scoring one image at a time is where libtorch probed NNPACK and logged its failure on every call.
            Assert.AreEqual("", result.Error, $"ISA {level}: the networks wrote to stderr");
            var runs = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(parts => parts[0], parts => parts.Skip(1).Where(p => p is not ("losses" or "scores"))
                    .Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray());
            RunsByLevel[level] = runs;
            return runs;
        }
    }
}
