using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Builds tensors from plain arrays and reads them back, and generates awkward rows.</summary>
internal static class TensorTestData
{
    public static Tensor Rows(ScalarType dtype, params double[][] rows)
    {
        int n = rows[0].Length;
        var flat = rows.SelectMany(r => r).ToArray();
        return torch.tensor(flat, [rows.Length, n], ScalarType.Float64).to_type(dtype);
    }

    public static double[] Values(Tensor t)
    {
        using var d = t.detach().cpu().to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>Rounds values through float32 when the test runs in float32, so brute force sees the same inputs.</summary>
    public static double[] AsPrecision(double[] row, ScalarType dtype) =>
        dtype == ScalarType.Float32 ? row.Select(v => (double)(float)v).ToArray() : row;

    /// <summary>Rows of length 1..maxLength with ties, zeros, constant, negative-only, bimodal and all-zero rows.</summary>
    public static List<double[]> AwkwardRows(int count, int maxLength, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<double[]>();
        for (int i = 0; i < count; i++)
        {
            int n = 1 + rng.Next(maxLength);
            var row = new double[n];
            switch (i % 8)
            {
                case 0: // Gaussian
                    for (int j = 0; j < n; j++) { row[j] = Gaussian(rng); }
                    break;
                case 1: // heavy ties from a few integers, with zeros
                    for (int j = 0; j < n; j++) { row[j] = rng.Next(-3, 4); }
                    break;
                case 2: // constant magnitude with random signs
                    double c = 0.1 + rng.NextDouble();
                    for (int j = 0; j < n; j++) { row[j] = rng.Next(2) == 0 ? c : -c; }
                    break;
                case 3: // negative only
                    for (int j = 0; j < n; j++) { row[j] = -Math.Abs(Gaussian(rng)) - 0.01; }
                    break;
                case 4: // bimodal magnitudes
                    for (int j = 0; j < n; j++) { row[j] = (rng.Next(2) == 0 ? 1 : 5) + 0.1 * Gaussian(rng); }
                    break;
                case 5: // sparse: mostly zeros
                    for (int j = 0; j < n; j++) { row[j] = rng.Next(4) == 0 ? Gaussian(rng) * 3 : 0; }
                    break;
                case 6: // all zero
                    break;
                default: // heavy tail
                    for (int j = 0; j < n; j++) { row[j] = Math.Pow(Gaussian(rng), 3); }
                    break;
            }
            rows.Add(row);
        }
        return rows;
    }

    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
