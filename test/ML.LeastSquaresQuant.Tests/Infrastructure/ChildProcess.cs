using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Runs a sibling program of the test project (built beside it) in its own process.</summary>
internal static class ChildProcess
{
    /// <summary>What a child left behind; <see cref="TimedOut"/> when it was killed at the deadline.</summary>
    public sealed record Result(int ExitCode, string Output, string Error, bool TimedOut);

    /// <summary>The path of <paramref name="project"/>'s dll, built with the test project's configuration.</summary>
    public static string ProgramPath(string project)
    {
        string testDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string framework = Path.GetFileName(testDir), configuration = Path.GetFileName(Path.GetDirectoryName(testDir)!);
        string path = Path.GetFullPath(Path.Combine(testDir, "..", "..", "..", "..", project, "bin", configuration, framework,
            project + ".dll"));
        Assert.IsTrue(File.Exists(path), $"{project} is not built at {path}");
        return path;
    }

    /// <summary>Runs <c>dotnet PROGRAM ARGS</c> with extra environment variables and a deadline.</summary>
    public static Result Run(string project, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ProgramPath(project));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        // Both streams are drained concurrently: a child that fills one pipe while we wait on the other would hang.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        bool exited = process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5));
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Task.WaitAll(output, error);
        return new Result(exited ? process.ExitCode : -1, output.Result, error.Result, !exited);
    }
}
