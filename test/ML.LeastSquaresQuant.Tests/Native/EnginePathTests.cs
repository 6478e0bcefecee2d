using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Native;

/// <summary>
/// The engine's own vector code on each of its paths: the same small networks scored in child processes with the
/// JIT's newer AVX-512 extensions (VBMI: the byte-permute kernel), all of AVX-512 (the AVX2 kernels and 256-bit
/// vectors) or all hardware intrinsics (the portable code) switched off; on a CPU without them, runs coincide.
/// Each run must match the float path bit for bit, and all runs must give the same logits.
/// </summary>
[TestClass]
public sealed class EnginePathTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void TestEngineMatchesTheFloatPathOnEveryVectorPath()
    {
        var settings = new (string Name, Dictionary<string, string>? Environment)[]
        {
            ("as the CPU allows", null),
            ("without AVX-512 VBMI", new() { ["DOTNET_EnableAVX512v2"] = "0" }),
            ("without AVX-512", new() { ["DOTNET_EnableAVX512"] = "0" }),
            ("without hardware intrinsics", new() { ["DOTNET_EnableHWIntrinsic"] = "0" }),
        };
        var checksums = new List<string>();
        foreach (var (name, environment) in settings)
        {
            var result = ChildProcess.Run("ML.LeastSquaresQuant.NativeProbe", ["engine-paths"], environment, System.TimeSpan.FromMinutes(3));
            TestContext.WriteLine($"{name}:\n{result.Output}{result.Error}");
            Assert.IsFalse(result.TimedOut, $"{name}: timed out");
            Assert.AreEqual(0, result.ExitCode, $"{name}: exit code; output:\n{result.Output}{result.Error}");
            checksums.Add(result.Output.Split('\n').Single(l => l.StartsWith("checksum ", System.StringComparison.Ordinal)));
        }
        Assert.AreEqual(1, checksums.Distinct().Count(), "every path gives the same logits: " + string.Join("; ", checksums));
    }
}
