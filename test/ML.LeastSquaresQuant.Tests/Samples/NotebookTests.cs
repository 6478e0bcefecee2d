using System;
using System.Diagnostics;
using System.IO;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Samples;

/// <summary>Executes every cell of the samples notebook headlessly, as a reader would run it.</summary>
[TestClass]
[DoNotParallelize]
public sealed class NotebookTests
{
    public TestContext TestContext { get; set; } = null!;

    private static string RepositoryRoot => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    private static (int Code, string Output) Run(string fileName, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output + "\n(timed out)");
        }
        return (process.ExitCode, output + stderr.Result);
    }

    [TestMethod]
    public void TestSamplesNotebookRunsEveryCell()
    {
        string root = RepositoryRoot;
        string notebook = Path.Combine(root, "samples", "notebook", "FashionMnistQuantization.ipynb");
        Assert.IsTrue(File.Exists(notebook), notebook);

        // The notebook takes the library as a package from artifacts/pkg (its NuGet.config says so): pack the
        // current sources, and drop a cached copy of the same version so that this one is used.
        var (code, output) = Run("dotnet", root, "pack", "src/ML.LeastSquaresQuant", "-c", "Release", "-o", "artifacts/pkg", "-nologo");
        Assert.AreEqual(0, code, output);
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cached = Path.Combine(packages, "ml.leastsquaresquant");
        if (Directory.Exists(cached))
        {
            Directory.Delete(cached, recursive: true);
        }

        string testDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string runner = Path.GetFullPath(Path.Combine(testDir, "..", "..", "..", "..", "ML.LeastSquaresQuant.NotebookRunner", "bin",
            Path.GetFileName(Path.GetDirectoryName(testDir)!), Path.GetFileName(testDir), "ML.LeastSquaresQuant.NotebookRunner.dll"));
        Assert.IsTrue(File.Exists(runner), $"the notebook runner is not built at {runner}");
        (code, output) = Run("dotnet", root, runner, notebook);
        TestContext.WriteLine(output);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "[cell 8 ran in");
    }
}
