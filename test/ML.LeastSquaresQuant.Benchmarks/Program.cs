using BenchmarkDotNet.Running;

namespace ML.LeastSquaresQuant.Benchmarks;

/// <summary>Runs the benchmarks: <c>dotnet run -c Release --project test/ML.LeastSquaresQuant.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    /// <summary>Entry point; arguments go to BenchmarkDotNet's switcher.</summary>
    /// <param name="args">BenchmarkDotNet command line.</param>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
