using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

using ML.LeastSquaresQuant.Tests.Infrastructure;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>How one damaged file fared in a child process.</summary>
internal enum HostileOutcome
{
    /// <summary>Loaded and scored exactly as the original.</summary>
    Identical,

    /// <summary>Refused with a documented managed exception (DamagedModelException, another FormatException or InvalidDataException in the chain).</summary>
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
/// Runs <c>NativeProbe load-score</c> on files: two workers, each a child process that tries its files one after
/// another (starting .NET and libtorch per file would dominate the campaign's time), under an address-space cap
/// (4 GiB, with the GC's heap limit and region range set so .NET starts under it). A file that gets no answer
/// within the timeout is a hang; one during which the child dies is a crash; the rest go to a fresh child.
/// </summary>
internal static class HostileProbeRunner
{
    private const int TimeoutSeconds = 60;

    public static string ProbePath() => ChildProcess.ProgramPath("ML.LeastSquaresQuant.NativeProbe");

    /// <summary>Runs every (case, file) and classifies it against the original's "ok …" line.</summary>
    /// <param name="cases">Case names and files.</param>
    /// <param name="expectedOk">The original's answer line.</param>
    /// <param name="command">The probe's command and arguments before the files ("load-score 1 8 8", "score-images MODEL.zip").</param>
    public static List<HostileResult> Run(IReadOnlyList<(string Case, string Path)> cases, string expectedOk, string command)
    {
        var results = new HostileResult[cases.Count];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, worker =>
        {
            var mine = Enumerable.Range(0, cases.Count).Where(i => i % 2 == worker).ToList();
            while (mine.Count > 0)
            {
                var (answers, exit) = RunBatch(mine.Select(i => cases[i].Path).ToList(), command);
                for (int k = 0; k < answers.Count; k++)
                {
                    results[mine[k]] = new HostileResult(cases[mine[k]].Case, Classify(answers[k], expectedOk), answers[k]);
                }
                if (answers.Count < mine.Count)
                {
                    int culprit = mine[answers.Count];
                    results[culprit] = new HostileResult(cases[culprit].Case, exit == -1 ? HostileOutcome.Hang : HostileOutcome.Crash, $"exit {exit}");
                    mine = mine.Skip(answers.Count + 1).ToList();
                }
                else
                {
                    mine.Clear();
                }
            }
        });
        return [.. results];
    }

    /// <summary>Runs one file and returns its answer line ("timeout" or "exit N" when it got none).</summary>
    public static string RunOne(string path, string command)
    {
        var (answers, exit) = RunBatch([path], command);
        return answers.Count == 1 ? answers[0] : exit == -1 ? "timeout" : $"exit {exit}";
    }

    // The answer lines in file order, and the exit code (−1 when the timeout killed the child).
    private static (List<string> Answers, int Exit) RunBatch(List<string> paths, string command)
    {
        var start = new ProcessStartInfo("prlimit") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--as=4294967296", "--", "dotnet", ProbePath() }.Concat(command.Split(' ')).Concat(paths))
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x30000000";
        start.Environment["DOTNET_GCRegionRange"] = "0x60000000";
        start.Environment["MALLOC_ARENA_MAX"] = "2";
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var answers = new List<string>();
        while (answers.Count < paths.Count)
        {
            var line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(TimeoutSeconds)))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (answers, -1);
            }
            if (line.Result is null)
            {
                break;
            }
            answers.Add(line.Result.Trim());
        }
        process.WaitForExit();
        return (answers, process.ExitCode);
    }

    private static HostileOutcome Classify(string output, string expectedOk)
    {
        string chain = output.StartsWith("error ", StringComparison.Ordinal) ? output[6..output.IndexOf(':', StringComparison.Ordinal)] : "";
        return output switch
        {
            _ when output == expectedOk => HostileOutcome.Identical,
            _ when output.StartsWith("ok ", StringComparison.Ordinal) => HostileOutcome.Silent,
            _ when chain.Contains("OutOfMemoryException", StringComparison.Ordinal) => HostileOutcome.MemoryCap,
            _ when chain.Contains("FormatException", StringComparison.Ordinal) || chain.Contains("DamagedModelException", StringComparison.Ordinal)
                || chain.Contains("InvalidDataException", StringComparison.Ordinal) =>
                HostileOutcome.Refused,
            // ML.NET's own stored schema (outside our stream) damaged: ML.NET names the column it cannot find.
            _ when chain.Contains("ArgumentOutOfRangeException", StringComparison.Ordinal)
                && output.Contains("Could not find input column", StringComparison.Ordinal) => HostileOutcome.Refused,
            _ => HostileOutcome.Undocumented,
        };
    }
}
