using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace ML.LeastSquaresQuant.NotebookRunner;

/// <summary>Usage: NotebookRunner NOTEBOOK.ipynb — runs the C# cells in order, in the notebook's folder.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    /// <param name="args">The notebook path.</param>
    /// <returns>0 when every cell ran without error.</returns>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 1 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: NotebookRunner NOTEBOOK.ipynb");
            return 2;
        }
        string path = Path.GetFullPath(args[0]);
        // Relative paths in the notebook (and its NuGet.config) are relative to its folder, as in an editor.
        Directory.SetCurrentDirectory(Path.GetDirectoryName(path)!);
        var kernels = new KernelInfoCollection { new Microsoft.DotNet.Interactive.Documents.KernelInfo("csharp", "C#", ["c#", "C#"]) };
        kernels.DefaultKernelName = "csharp";
        var document = Notebook.Parse(await File.ReadAllTextAsync(path), kernels);

        var csharp = new CSharpKernel().UseKernelHelpers().UseNugetDirective((kernel, references) =>
        {
            kernel.AddAssemblyReferences(references.SelectMany(r => r.AssemblyPaths));
            return Task.CompletedTask;
        }, forceRestore: false);
        using var root = new CompositeKernel { csharp };
        root.DefaultKernelName = "csharp";

        int index = 0;
        foreach (var cell in document.Elements)
        {
            index++;
            if (cell.KernelName is not ("csharp" or "C#" or "c#") || string.IsNullOrWhiteSpace(cell.Contents))
            {
                continue;
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = await root.SendAsync(new SubmitCode(cell.Contents, "csharp"));
            foreach (var e in result.Events)
            {
                switch (e)
                {
                    case StandardOutputValueProduced output:
                        Console.Write(output.FormattedValues.FirstOrDefault()?.Value);
                        break;
                    case CommandFailed failed:
                        Console.Error.WriteLine($"cell {index} failed: {failed.Message}");
                        return 1;
                    case DiagnosticsProduced diagnostics when diagnostics.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error):
                        Console.Error.WriteLine($"cell {index} has errors: " +
                            string.Join("; ", diagnostics.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Message)));
                        return 1;
                }
            }
            Console.WriteLine($"[cell {index} ran in {clock.Elapsed.TotalSeconds:F1} s]");
        }
        return 0;
    }
}
