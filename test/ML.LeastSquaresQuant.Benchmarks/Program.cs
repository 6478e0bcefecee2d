using BenchmarkDotNet.Running;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project test/ML.LeastSquaresQuant.Benchmarks -- --filter '*'</c>
/// (BenchmarkDotNet, CPU), or with the argument <c>gpu</c> the CUDA measurements of <see cref="GpuBenchmarks"/>.
/// </summary>
public static class Program
{
    /// <summary>Entry point; arguments go to BenchmarkDotNet's switcher.</summary>
    /// <param name="args">BenchmarkDotNet command line.</param>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gpu")
        {
            GpuBenchmarks.Run();
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
