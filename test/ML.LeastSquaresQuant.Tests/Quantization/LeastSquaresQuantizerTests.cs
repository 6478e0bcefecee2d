using System;
using System.Linq;
using ML.LeastSquaresQuant.Quantization;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Quantization;

[TestClass]
public sealed class LeastSquaresQuantizerTests
{
    private static (double[] Scalars, double[] Quantized) Run(double[] row, string scheme, ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var q = QuantScheme.Parse(scheme);
        var rows = TensorTestData.Rows(dtype, row);
        var scalars = LeastSquaresQuantizer.ComputeScalars(rows, q);
        Assert.AreEqual(dtype, scalars.dtype);
        CollectionAssert.AreEqual(new long[] { 1, q.ScalarCount }, scalars.shape);
        var quantized = LeastSquaresQuantizer.Quantize(rows, scalars, q);
        CollectionAssert.AreEqual(rows.shape, quantized.shape);
        return (TensorTestData.Values(scalars), TensorTestData.Values(quantized));
    }

    [TestMethod]
    public void TestRadixSortOfMagnitudesEqualsAComparisonSort()
    {
        // Long stalled brackets of float rows are radix-sorted on their bits: zeros, subnormals, ties, huge values.
        var rng = new Random(5);
        foreach (int n in new[] { 257, 1000, 40_000 })
        {
            var values = new float[n];
            for (int i = 0; i < n; i++)
            {
                values[i] = (i % 7) switch
                {
                    0 => 0f,
                    1 => float.Epsilon * rng.Next(1, 1000),
                    2 => 2f,
                    3 => float.MaxValue / (1 + rng.Next(3)),
                    _ => (float)Math.Abs(TensorTestData.Gaussian(rng)) * (float)Math.Pow(10, rng.Next(-20, 20)),
                };
            }
            var expected = (float[])values.Clone();
            Array.Sort(expected);
            ML.LeastSquaresQuant.Quantization.MagnitudeSort.Sort<float>(values);
            CollectionAssert.AreEqual(expected, values, $"n = {n}");
        }
    }

    [TestMethod]
    [DataRow(ScalarType.Float32)]
    [DataRow(ScalarType.Float64)]
    public void TestWorkedExamplesFromSpecification(ScalarType dtype)
    {
        var (v, xq) = Run([-5, -4, -3, 3, 4, 5], "ls-1", dtype);
        CollectionAssert.AreEqual(new double[] { 4 }, v);
        CollectionAssert.AreEqual(new double[] { -4, -4, -4, 4, 4, 4 }, xq);

        (v, xq) = Run([1, 1, 1, 5, 5, 5], "ls-2", dtype);
        CollectionAssert.AreEqual(new double[] { 3, 2 }, v);
        CollectionAssert.AreEqual(new double[] { 1, 1, 1, 5, 5, 5 }, xq);

        (v, xq) = Run([0, 0, 4, 4], "ls-T", dtype);
        CollectionAssert.AreEqual(new double[] { 2 }, v);
        CollectionAssert.AreEqual(new double[] { 0, 0, 4, 4 }, xq);
    }

    [TestMethod]
    public void TestEdgeCases()
    {
        // One element: v2 = 0, v1 = |x|.
        CollectionAssert.AreEqual(new double[] { 3, 0 }, Run([-3], "ls-2").Scalars);
        // Equal magnitudes: v2 = 0, v1 = mean |x|, exact reconstruction.
        var (v, xq) = Run([2, -2, 2, 2, -2], "ls-2");
        CollectionAssert.AreEqual(new double[] { 2, 0 }, v);
        CollectionAssert.AreEqual(new double[] { 2, -2, 2, 2, -2 }, xq);
        // All zeros: all scalars 0 and x_q = 0 for every scheme.
        foreach (var scheme in new[] { "ls-1", "ls-2", "ls-T", "gf-3" })
        {
            (v, xq) = Run([0, 0, 0], scheme);
            Assert.IsTrue(v.All(s => s == 0), scheme);
            Assert.IsTrue(xq.All(s => s == 0), scheme);
        }
        // ls-T with t = 0 optimal: everything in the upper level, v = mean/2.
        CollectionAssert.AreEqual(new double[] { 1.5 }, Run([3, -3, 3], "ls-T").Scalars);
        // Binary sign: sign(0) = +1.
        CollectionAssert.AreEqual(new double[] { 1, 1, -1 }, Run([0, 2, -1], "ls-1").Quantized);
    }

    [TestMethod]
    [DataRow(ScalarType.Float32)]
    [DataRow(ScalarType.Float64)]
    public void TestTwoBitAndTernaryAreOptimalAgainstBruteForce(ScalarType dtype)
    {
        var rows = TensorTestData.AwkwardRows(240, 40, seed: 7);
        double relative = 1e-5;
        foreach (var raw in rows)
        {
            var row = TensorTestData.AsPrecision(raw, dtype);
            double energy = row.Sum(v => v * v);
            double slack = 1e-9 * energy + 1e-30;

            double ours = BruteForce.SquaredError(row, Run(row, "ls-2", dtype).Quantized);
            double bySplits = BruteForce.TwoBitBySplits(row);
            double byGrid = BruteForce.TwoBitByGrid(row, 801);
            Assert.IsLessThanOrEqualTo(bySplits * (1 + relative) + slack, ours, $"ls-2 vs splits on [{string.Join(", ", row)}]");
            Assert.IsLessThanOrEqualTo(byGrid * (1 + relative) + slack, ours, $"ls-2 vs grid on [{string.Join(", ", row)}]");

            ours = BruteForce.SquaredError(row, Run(row, "ls-T", dtype).Quantized);
            double ternarySplits = BruteForce.TernaryBySplits(row);
            double ternaryGrid = BruteForce.TernaryByGrid(row, 801);
            Assert.IsLessThanOrEqualTo(ternarySplits * (1 + relative) + slack, ours, $"ls-T vs splits on [{string.Join(", ", row)}]");
            Assert.IsLessThanOrEqualTo(ternaryGrid * (1 + relative) + slack, ours, $"ls-T vs grid on [{string.Join(", ", row)}]");
        }
    }

    [TestMethod]
    [DataRow(ScalarType.Float64, false)]
    [DataRow(ScalarType.Float32, false)]
    [DataRow(ScalarType.Float32, true)]
    public void TestLongRowsAreOptimalOnBothPaths(ScalarType dtype, bool scalarLoops)
    {
        // Float32 rows run the AVX2 kernels (bracketing passes, packing, sums) unless scalarLoops turns them off.
        using var switches = ProcessSwitches.ScalarLoops(scalarLoops);
        LongRowsAreOptimal(dtype);
    }

    private static void LongRowsAreOptimal(ScalarType dtype)
    {
        // Rows longer than the kernel's sort threshold exercise the bracketing passes; the sort-based path is the GPU one.
        var rng = new Random(11);
        var shapes = new Func<int, double>[]
        {
            _ => TensorTestData.Gaussian(rng),
            j => j % 3 == 0 ? 4 + TensorTestData.Gaussian(rng) : 0.3 * TensorTestData.Gaussian(rng),
            j => (j % 3) * 2.0 + 0.01 * TensorTestData.Gaussian(rng),
            _ => Math.Max(0, TensorTestData.Gaussian(rng)),
            _ => rng.Next(5),
        };
        foreach (int n in new[] { 49, 300, 1001, 2500 })
        {
            foreach (var make in shapes)
            {
                var row = TensorTestData.AsPrecision(Enumerable.Range(0, n).Select(make).ToArray(), dtype);
                using var scope = NewDisposeScope();
                var rows = TensorTestData.Rows(dtype, row);
                foreach (var scheme in new[] { QuantScheme.LeastSquares2, QuantScheme.LeastSquaresTernary })
                {
                    double best = scheme == QuantScheme.LeastSquares2 ? BruteForce.TwoBitBySplits(row) : BruteForce.TernaryBySplits(row);
                    var kernel = LeastSquaresQuantizer.ComputeScalars(rows, scheme);
                    var sorted = scheme == QuantScheme.LeastSquares2 ? SortedSplitSolver.SolveTwoBit(rows) : SortedSplitSolver.SolveTernary(rows);
                    foreach (var scalars in new[] { kernel, sorted })
                    {
                        double ours = BruteForce.SquaredError(row, TensorTestData.Values(LeastSquaresQuantizer.Quantize(rows, scalars, scheme)));
                        Assert.IsLessThanOrEqualTo(best * (1 + (dtype == ScalarType.Float32 ? 1e-6 : 1e-9)) + 1e-12, ours, $"{scheme}, n = {n}, {dtype}");
                    }
                }
            }
        }
    }

    [TestMethod]
    [DataRow(ScalarType.Float32)]
    [DataRow(ScalarType.Float64)]
    public void TestCpuKernelAgreesWithSortPathOnMatrices(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(3);
        var rows = torch.randn(64, 1500, dtype: dtype);
        var kernel = LeastSquaresQuantizer.ComputeScalars(rows, QuantScheme.LeastSquares2);
        var sorted = SortedSplitSolver.SolveTwoBit(rows).to_type(dtype);
        Assert.IsTrue(kernel.allclose(sorted, rtol: 1e-5, atol: 1e-6), "ls-2");
        kernel = LeastSquaresQuantizer.ComputeScalars(rows, QuantScheme.LeastSquaresTernary);
        sorted = SortedSplitSolver.SolveTernary(rows).to_type(dtype);
        Assert.IsTrue(kernel.allclose(sorted, rtol: 1e-5, atol: 1e-6), "ls-T");
    }

    [TestMethod]
    [DataRow(ScalarType.Float32)]
    [DataRow(ScalarType.Float64)]
    public void TestFusedCpuReconstructionEqualsTensorOpsBitForBit(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(12);
        var rows = torch.randn(37, 301, dtype: dtype) * 3;
        rows[0] = torch.zeros(301, dtype: dtype); // sign(0) = +1 on both paths
        foreach (int k in new[] { 1, 2, 3 })
        {
            var perRow = torch.rand(37, k, dtype: dtype);
            var shared = torch.rand(1, k, dtype: dtype);
            foreach (var steps in new[] { perRow, shared })
            {
                var fused = FoldableReconstruction.Run(rows, steps);
                var reference = LeastSquaresQuantizer.ReconstructWithTensorOps(rows, steps);
                Assert.IsTrue(fused.BitEqual(reference), $"k = {k}, scalars {TensorTestData.Values(steps).Length / k} row(s)");
            }
        }
    }

    [TestMethod]
    public void TestGreedyEqualsStepsByHandAndGf1EqualsLs1()
    {
        var rows = TensorTestData.AwkwardRows(40, 30, seed: 5);
        foreach (var row in rows)
        {
            foreach (int k in new[] { 1, 2, 3, 4 })
            {
                var (expectedScalars, expectedQuantized) = BruteForce.Greedy(row, k);
                var (scalars, quantized) = Run(row, "gf-" + k);
                AssertClose(expectedScalars, scalars, 1e-12, $"gf-{k} scalars");
                AssertClose(expectedQuantized, quantized, 1e-12, $"gf-{k} reconstruction");
            }
            var gf1 = Run(row, "gf-1");
            var ls1 = Run(row, "ls-1");
            CollectionAssert.AreEqual(ls1.Scalars, gf1.Scalars);
            CollectionAssert.AreEqual(ls1.Quantized, gf1.Quantized);
        }
    }

    [TestMethod]
    public void TestManyRowsAtOnceEqualOneRowAtATime()
    {
        var rows = TensorTestData.AwkwardRows(30, 12, seed: 9).Select(r => r.Length == 12 ? r : Enumerable.Range(0, 12).Select(i => r[i % r.Length] + i).ToArray()).ToArray();
        using var scope = NewDisposeScope();
        var matrix = TensorTestData.Rows(ScalarType.Float64, rows);
        foreach (var scheme in new[] { "ls-1", "ls-2", "ls-T", "gf-2" })
        {
            var all = TensorTestData.Values(LeastSquaresQuantizer.ComputeScalars(matrix, QuantScheme.Parse(scheme)));
            int k = QuantScheme.Parse(scheme).ScalarCount;
            for (int i = 0; i < rows.Length; i++)
            {
                AssertClose(Run(rows[i], scheme).Scalars, all.Skip(i * k).Take(k).ToArray(), 1e-12, scheme);
            }
        }
    }

    [TestMethod]
    public void TestVectorKernelsEqualTheScalarLoops()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        var gaussian = torch.randn(16, 1003);
        var clustered = torch.randint(0, 4, [16, 777]).to_type(ScalarType.Float32) + torch.randn(16, 777) * 0.01f;
        var withZeros = torch.randn(16, 64) * torch.randint(0, 2, [16, 64]).to_type(ScalarType.Float32);
        withZeros[0] = torch.full(64, -0.0f); // −0 has sign +1
        foreach (var rows in new[] { gaussian, clustered, withZeros })
        {
            foreach (var scheme in new[] { QuantScheme.LeastSquares1, QuantScheme.LeastSquares2, QuantScheme.LeastSquaresTernary, QuantScheme.Parse("gf-3") })
            {
                var (vectorScalars, vectorQuantized) = ScalarsAndQuantized(rows, scheme, disabled: false);
                var (scalarScalars, scalarQuantized) = ScalarsAndQuantized(rows, scheme, disabled: true);
                // Same optimum; only the order of the double additions differs.
                Assert.IsTrue(vectorScalars.allclose(scalarScalars, rtol: 1e-6, atol: 1e-9), $"scalars of {scheme}");
                // Reconstruction from the same scalars is bit for bit the scalar loop.
                var fromSame = LeastSquaresQuantizer.Quantize(rows, scalarScalars, scheme); // AVX2 reconstruction
                Assert.IsTrue(fromSame.BitEqual(scalarQuantized), $"reconstruction of {scheme}");
                Assert.IsTrue(vectorQuantized.allclose(scalarQuantized, rtol: 1e-5, atol: 1e-6), $"quantized {scheme}");
            }
        }
    }

    [TestMethod]
    public void TestAvx512RowPassesGiveTheAvx2LoopsBits()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            return; // one path only on this CPU: nothing to compare
        }
        using var scope = NewDisposeScope();
        torch.manual_seed(11);
        // Lengths with and without a 16-float remainder, an 8-float group and a scalar tail.
        foreach (int length in new[] { 1003, 777, 64, 24, 9, 7 })
        {
            var gaussian = torch.randn(16, length);
            var clustered = torch.randint(0, 4, [16, length]).to_type(ScalarType.Float32) + torch.randn(16, length) * 0.01f;
            var withZeros = torch.randn(16, length) * torch.randint(0, 2, [16, length]).to_type(ScalarType.Float32);
            foreach (var rows in new[] { gaussian, clustered, withZeros })
            {
                foreach (var scheme in new[] { QuantScheme.LeastSquares2, QuantScheme.LeastSquaresTernary })
                {
                    Tensor wide, narrow;
                    using (ProcessSwitches.NarrowVectorLoops(false))
                    {
                        wide = LeastSquaresQuantizer.ComputeScalars(rows, scheme);
                    }
                    using (ProcessSwitches.NarrowVectorLoops(true))
                    {
                        narrow = LeastSquaresQuantizer.ComputeScalars(rows, scheme);
                    }
                    Assert.IsTrue(wide.BitEqual(narrow), $"{scheme}, rows of {length}: AVX-512 and AVX2 scalars differ in their bits");
                }
            }
        }
    }

    [TestMethod]
    public void TestFusedMagnitudePassGivesTheSeparatePassesBits()
    {
        if (!VectorKernels.FusesShiftedSum)
        {
            return; // the fused pass is AVX-512 only (on AVX2 it measured no faster than the separate passes)
        }
        var random = new Random(12);
        // Lengths with and without 16- and 8-float remainders and a scalar tail; values spanning magnitudes.
        foreach (int length in new[] { 12544, 1003, 24, 9, 7 })
        {
            var row = new float[length];
            for (int i = 0; i < length; i++)
            {
                row[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 2)));
            }
            var fusedMagnitudes = new float[length];
            var separateMagnitudes = new float[length];
            var fused = VectorKernels.LoadMagnitudesAndShiftedSum(row, fusedMagnitudes, out bool fusedFinite);
            var (min, max, sum) = VectorKernels.LoadMagnitudes(row, separateMagnitudes, out bool finite);
            double shifted = VectorKernels.ShiftedSum(separateMagnitudes, min);
            string where = $"{length} floats";
            Assert.IsTrue(fusedFinite && finite, where);
            CollectionAssert.AreEqual(separateMagnitudes, fusedMagnitudes, where);
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(min), BitConverter.DoubleToInt64Bits(fused.Min), $"{where}: min");
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(max), BitConverter.DoubleToInt64Bits(fused.Max), $"{where}: max");
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(sum), BitConverter.DoubleToInt64Bits(fused.Sum), $"{where}: sum");
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(shifted), BitConverter.DoubleToInt64Bits(fused.ShiftedSum), $"{where}: shifted sum");
        }
    }

    private static (Tensor Scalars, Tensor Quantized) ScalarsAndQuantized(Tensor rows, QuantScheme scheme, bool disabled)
    {
        using var switches = ProcessSwitches.ScalarLoops(disabled);
        var scalars = LeastSquaresQuantizer.ComputeScalars(rows, scheme);
        return (scalars, LeastSquaresQuantizer.Quantize(rows, scalars, scheme));
    }

    [TestMethod]
    public void TestNonFiniteValuesAreFoundInsideTheVectorizedPart()
    {
        using var scope = NewDisposeScope();
        foreach (int position in new[] { 5, 64, 99 })
        {
            foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                var rows = torch.randn(3, 100);
                rows[1, position] = torch.tensor(bad);
                foreach (var scheme in new[] { "ls-1", "ls-2", "ls-T" })
                {
                    var ex = Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(rows, QuantScheme.Parse(scheme)));
                    StringAssert.Contains(ex.Message, "Row 1 contains NaN or infinite");
                }
            }
        }
    }

    [TestMethod]
    public void TestBadInputGivesArgumentException()
    {
        using var scope = NewDisposeScope();
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var rows = TensorTestData.Rows(ScalarType.Float32, [1, 2, 3], [4, bad, 6]);
            foreach (var scheme in new[] { "ls-1", "ls-2", "ls-T", "gf-2" })
            {
                var ex = Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(rows, QuantScheme.Parse(scheme)));
                StringAssert.Contains(ex.Message, "NaN or infinite");
            }
        }
        var rank3 = Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(torch.ones(2, 3, 4), QuantScheme.LeastSquares2));
        StringAssert.Contains(rank3.Message, "[2, 3, 4]");
        Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(torch.ones(5), QuantScheme.LeastSquares1));
        Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(torch.ones(2, 3, dtype: ScalarType.Int32), QuantScheme.LeastSquares1));
        Assert.ThrowsExactly<ArgumentException>(() => LeastSquaresQuantizer.ComputeScalars(torch.ones(2, 0), QuantScheme.LeastSquares2));
        Assert.ThrowsExactly<ArgumentNullException>(() => LeastSquaresQuantizer.ComputeScalars(null!, QuantScheme.LeastSquares2));
        var mismatch = Assert.ThrowsExactly<ArgumentException>(() =>
            LeastSquaresQuantizer.Quantize(torch.ones(3, 4), torch.ones(3, 1), QuantScheme.LeastSquares2));
        StringAssert.Contains(mismatch.Message, "expected [3, 2]");
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.AreEqual(expected[i], actual[i], tolerance * Math.Max(1, Math.Abs(expected[i])), $"{what} [{i}]");
        }
    }
}
