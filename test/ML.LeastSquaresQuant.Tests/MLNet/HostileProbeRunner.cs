using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>How one damaged file fared in a child process.</summary>
internal enum HostileOutcome
{
    /// <summary>Loaded and scored exactly as the original.</summary>
    Identical,

    /// <summary>Refused with a documented managed exception (FormatException or InvalidDataException in the chain).</summary>
    Refused,

    /// <summary>Loaded and scored, but the scores changed: silent damage.</summary>
    Silent,

    /// <summary>A managed exception of another, undocumented kind.</summary>
    Undocumented,

    /// <summary>OutOfMemoryException under the memory cap.</summary>
    MemoryCap,

    /// <summary>Killed by the timeout.</summary>
    Hang,

    /// <summary>Any other exit: a signal, an abort, an unhandled exception.</summary>
    Crash,
}

/// <summary>One campaign case's result: the outcome and the child's output line.</summary>
internal sealed record HostileResult(string Case, HostileOutcome Outcome, string Output);

/// <summary>
/// Runs <c>NativeProbe load-score</c> on files, two children at a time, each under an address-space cap (4 GiB,
/// with the GC's heap limit and region range set so .NET starts under it) and a timeout.
/// </summary>
internal static class HostileProbeRunner
{
    private const int TimeoutSeconds = 60;

    public static string ProbePath()
    {
        string testDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string framework = Path.GetFileName(testDir), configuration = Path.GetFileName(Path.GetDirectoryName(testDir)!);
        return Path.GetFullPath(Path.Combine(testDir, "..", "..", "..", "..", "ML.LeastSquaresQuant.NativeProbe",
            "bin", configuration, framework, "ML.LeastSquaresQuant.NativeProbe.dll"));
    }

    /// <summary>Runs every (case, file) and classifies it against the original's "ok …" line.</summary>
    public static List<HostileResult> Run(IReadOnlyList<(string Case, string Path)> cases, string expectedOk, string shapeArgs)
    {
        var results = new HostileResult[cases.Count];
        Parallel.For(0, cases.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var (exit, output) = RunOne(cases[i].Path, shapeArgs);
            results[i] = new HostileResult(cases[i].Case, Classify(exit, output, expectedOk), output);
        });
        return [.. results];
    }

    /// <summary>Runs one file; exit −1 means the timeout killed it.</summary>
    public static (int Exit, string Output) RunOne(string modelPath, string shapeArgs)
    {
        var start = new ProcessStartInfo("prlimit") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--as=4294967296", "--", "dotnet", ProbePath(), "load-score", modelPath }.Concat(shapeArgs.Split(' ')))
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x30000000";
        start.Environment["DOTNET_GCRegionRange"] = "0x60000000";
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["MALLOC_ARENA_MAX"] = "2";
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, "timeout");
        }
        string output = stdout.Result.Trim();
        return (process.ExitCode, output.Length > 0 ? output : stderr.Result.Trim().Split('\n').LastOrDefault() ?? "");
    }

    private static HostileOutcome Classify(int exit, string output, string expectedOk)
    {
        string chain = output.StartsWith("error ", StringComparison.Ordinal) ? output[6..output.IndexOf(':', StringComparison.Ordinal)] : "";
        return exit switch
        {
            -1 => HostileOutcome.Hang,
            0 when output == expectedOk => HostileOutcome.Identical,
            0 => HostileOutcome.Silent,
            3 when chain.Contains("OutOfMemoryException", StringComparison.Ordinal) => HostileOutcome.MemoryCap,
            3 when chain.Contains("FormatException", StringComparison.Ordinal) || chain.Contains("InvalidDataException", StringComparison.Ordinal) =>
                HostileOutcome.Refused,
            3 => HostileOutcome.Undocumented,
            _ => HostileOutcome.Crash,
        };
    }
}
