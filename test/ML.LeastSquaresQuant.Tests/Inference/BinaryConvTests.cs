using System;
using ML.LeastSquaresQuant.Inference;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Inference;

/// <summary>
/// The bit-plane convolution against a direct float64 convolution of the ±1 planes times their scalars, and the
/// kernel paths against each other, on shapes that are not multiples of the word or vector widths.
/// </summary>
[TestClass]
public sealed class BinaryConvTests
{
    /// <summary>Random values with exact +0 and −0 mixed in, so sign(0) = +1 is exercised.</summary>
    internal static float[] RandomValues(Random random, long count)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            int kind = random.Next(20);
            values[i] = kind == 0 ? 0f : kind == 1 ? -0f : (float)(random.NextDouble() * 4 - 2);
        }
        return values;
    }

    /// <summary>Positive step scalars, decreasing per row like real least-squares scalars.</summary>
    internal static float[] RandomScalars(Random random, int rows, int k)
    {
        var scalars = new float[rows * k];
        for (int r = 0; r < rows; r++)
        {
            float v = (float)(0.5 + random.NextDouble());
            for (int i = 0; i < k; i++, v *= 0.5f)
            {
                scalars[r * k + i] = v;
            }
        }
        return scalars;
    }

    /// <summary>The ±1 planes of one row by the foldable rule, written independently of the engine.</summary>
    internal static sbyte[][] Planes(ReadOnlySpan<float> row, ReadOnlySpan<float> scalars)
    {
        var planes = new sbyte[scalars.Length][];
        var residual = row.ToArray();
        for (int i = 0; i < scalars.Length; i++)
        {
            planes[i] = new sbyte[row.Length];
            for (int e = 0; e < row.Length; e++)
            {
                float sign = residual[e] >= 0 ? 1f : -1f;
                planes[i][e] = (sbyte)sign;
                residual[e] -= sign * scalars[i];
            }
        }
        return planes;
    }

    [TestMethod]
    [DataRow(1, 1, 1, 1, 1, 1, 1, 0, 1, 1)]
    [DataRow(3, 3, 5, 5, 7, 3, 1, 1, 2, 1)]
    [DataRow(1, 63, 65, 7, 5, 3, 2, 1, 2, 2)]
    [DataRow(3, 64, 64, 5, 5, 5, 1, 2, 3, 1)]
    [DataRow(1, 65, 130, 7, 7, 3, 2, 0, 1, 3)]
    [DataRow(3, 130, 3, 5, 7, 1, 2, 2, 2, 2)]
    [DataRow(3, 130, 40, 7, 7, 5, 1, 2, 2, 2)]
    [DataRow(1, 64, 64, 1, 1, 3, 1, 1, 2, 1)]
    [DataRow(3, 1, 130, 7, 5, 5, 2, 1, 3, 3)]
    // Large enough for the parallel packing and convolution paths.
    [DataRow(2, 130, 9, 32, 32, 1, 1, 0, 2, 1)]
    // Narrow layers whose kernel rows fold into fewer words (FoldedConvWeights): a row that fills one word exactly
    // (21 × 3 = 63 bits), taps that straddle a word boundary, windows over both borders at once (width 1), a window
    // entirely in the padding (P = K), stride 2 and 3, and a batch large enough for the parallel fold.
    [DataRow(2, 16, 16, 9, 9, 3, 1, 1, 2, 1)]
    [DataRow(3, 16, 32, 8, 9, 3, 2, 1, 2, 1)]
    [DataRow(1, 21, 9, 5, 6, 3, 1, 1, 1, 2)]
    [DataRow(2, 22, 17, 6, 5, 3, 2, 1, 2, 2)]
    [DataRow(1, 42, 8, 4, 4, 3, 1, 2, 3, 1)]
    [DataRow(2, 30, 12, 7, 7, 5, 1, 2, 2, 1)]
    [DataRow(1, 13, 5, 3, 1, 7, 3, 3, 1, 2)]
    [DataRow(2, 5, 8, 5, 4, 3, 2, 3, 2, 2)]
    [DataRow(16, 16, 16, 28, 28, 3, 1, 1, 2, 1)]
    // Wide output and four plane pairs: a whole interior run of pixels holds more counts than one kernel call may
    // (8192 ints), so the run is split into calls of three pixels.
    [DataRow(1, 3, 520, 4, 9, 3, 1, 1, 2, 2)]
    public void TestMatchesFloat64BruteForceOnEveryPath(int n, int c, int o, int h, int w, int k, int s, int p, int kA, int kW)
    {
        var random = new Random(n * 1000003 + c * 10007 + o * 101 + h * 13 + k * 7 + s + p * 3 + kA * 17 + kW * 19);
        var x = RandomValues(random, (long)n * h * w * c);
        var v = RandomScalars(random, n, kA);
        var latent = RandomValues(random, (long)o * c * k * k);
        var alpha = RandomScalars(random, o, kW);
        var bias = RandomValues(random, o);

        var packedWeights = PackedConvWeights.FromLatent(latent, alpha, o, c, k, kW);
        var layer = new BinaryConv2d(packedWeights.ToKernelLayout(), bias, s, p);
        var unfolded = new BinaryConv2d(packedWeights.ToKernelLayout(), bias, s, p, foldWindows: false);
        Assert.AreEqual(c <= 64 && k > 1 && (k * c + 63) / 64 < k, layer.Folded is not null, "which layers fold");
        var input = new PackedActivations();
        input.Pack(x, v, n, h, w, c, kA);
        int ho = layer.OutputSize(h), wo = layer.OutputSize(w);
        Assert.AreEqual((h + 2 * p - k) / s + 1, ho);

        var reference = BruteForce(x, v, latent, alpha, bias, n, c, o, h, w, k, s, p, kA, kW, out var scale);
        float[]? first = null;
        int[]? firstCounts = null;
        foreach (var path in Enum.GetValues<BinaryKernelPath>())
        {
            if (!BinaryKernels.IsSupported(path))
            {
                continue;
            }
            var output = new float[(long)n * ho * wo * o];
            layer.Forward(input, output, path);
            for (long e = 0; e < output.Length; e++)
            {
                double error = Math.Abs(output[e] - reference[e]);
                Assert.IsTrue(error <= 1e-5 * Math.Abs(reference[e]) + 1e-9 * scale[e],
                    $"{path}: element {e} is {output[e]}, expected {reference[e]}.");
            }
            var counts = new int[(long)n * ho * wo * kA * kW * o];
            layer.ComputeCounts(input, counts, path);
            first ??= output;
            firstCounts ??= counts;
            CollectionAssert.AreEqual(firstCounts, counts, $"{path} integers differ from the first path's.");
            var unfoldedCounts = new int[counts.Length];
            unfolded.ComputeCounts(input, unfoldedCounts, path);
            CollectionAssert.AreEqual(counts, unfoldedCounts, $"{path}: folded and unfolded windows give different integers.");
            for (long e = 0; e < output.Length; e++)
            {
                Assert.AreEqual(BitConverter.SingleToInt32Bits(first[e]), BitConverter.SingleToInt32Bits(output[e]),
                    $"{path}: element {e} differs in its bits from the first path.");
            }
        }
    }

    [TestMethod]
    public void TestReusedActivationBufferGivesTheSameResultAfterALargerBatch()
    {
        var random = new Random(5);
        var alpha = RandomScalars(random, 9, 1);
        var layer = new BinaryConv2d(PackedConvWeights.FromLatent(RandomValues(random, 9 * 70 * 9), alpha, 9, 70, 3, 1)
            .ToKernelLayout(), null, 1, 1);
        var small = RandomValues(random, 5 * 5 * 70);
        var smallV = RandomScalars(random, 1, 2);
        var buffer = new PackedActivations();
        buffer.Pack(small, smallV, 1, 5, 5, 70, 2);
        var before = new float[25 * 9];
        layer.Forward(buffer, before);
        buffer.Pack(RandomValues(random, 3 * 7 * 7 * 70), RandomScalars(random, 3, 2), 3, 7, 7, 70, 2);
        buffer.Pack(small, smallV, 1, 5, 5, 70, 2);
        var after = new float[25 * 9];
        layer.Forward(buffer, after);
        CollectionAssert.AreEqual(before, after);
    }

    [TestMethod]
    public void TestFoldedLayerFollowsChangingInputWidths()
    {
        // The folded weights cache their border cases per input width, and the activation buffer its windows per
        // pack: alternate widths (and the one-pixel width whose window overhangs both edges) against unfolded layers.
        var random = new Random(11);
        var weights = PackedConvWeights.FromLatent(RandomValues(random, 12 * 16 * 9), RandomScalars(random, 12, 1), 12, 16, 3, 1);
        var folded = new BinaryConv2d(weights.ToKernelLayout(), null, 1, 1);
        var unfolded = new BinaryConv2d(weights.ToKernelLayout(), null, 1, 1, foldWindows: false);
        Assert.IsNotNull(folded.Folded);
        var buffer = new PackedActivations();
        foreach (int width in new[] { 5, 9, 1, 5, 2, 9 })
        {
            buffer.Pack(RandomValues(random, 2 * 4 * width * 16), RandomScalars(random, 2, 2), 2, 4, width, 16, 2);
            var expected = new float[2 * 4 * width * 12];
            var actual = new float[expected.Length];
            unfolded.Forward(buffer, expected);
            folded.Forward(buffer, actual);
            CollectionAssert.AreEqual(expected, actual, $"width {width}");
        }
    }

    [TestMethod]
    public void TestRejectsMismatchedShapes()
    {
        var random = new Random(3);
        var layer = new BinaryConv2d(PackedConvWeights.FromLatent(RandomValues(random, 4 * 3 * 9), RandomScalars(random, 4, 1),
            4, 3, 3, 1).ToKernelLayout(), null, 1, 0);
        var input = new PackedActivations();
        input.Pack(RandomValues(random, 5 * 5 * 2), RandomScalars(random, 1, 1), 1, 5, 5, 2, 1);
        Assert.ThrowsExactly<ArgumentException>(() => layer.Forward(input, new float[9 * 4]));
        input.Pack(RandomValues(random, 5 * 5 * 3), RandomScalars(random, 1, 1), 1, 5, 5, 3, 1);
        Assert.ThrowsExactly<ArgumentException>(() => layer.Forward(input, new float[9 * 4 + 1]));
    }

    /// <summary>out[n,y,x,o] in float64, iterating every kernel position and skipping the padded ones.</summary>
    private static double[] BruteForce(float[] x, float[] v, float[] latent, float[] alpha, float[] bias, int n, int c, int o,
        int h, int w, int k, int s, int p, int kA, int kW, out double[] scale)
    {
        int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1, rowLength = c * k * k;
        var weightPlanes = new sbyte[o][][];
        for (int oc = 0; oc < o; oc++)
        {
            weightPlanes[oc] = Planes(latent.AsSpan(oc * rowLength, rowLength), alpha.AsSpan(oc * kW, kW));
        }
        var result = new double[(long)n * ho * wo * o];
        scale = new double[result.Length];
        for (int b = 0; b < n; b++)
        {
            var activationPlanes = Planes(x.AsSpan(b * h * w * c, h * w * c), v.AsSpan(b * kA, kA));
            for (int y = 0; y < ho; y++)
            {
                for (int xo = 0; xo < wo; xo++)
                {
                    for (int oc = 0; oc < o; oc++)
                    {
                        double sum = bias[oc], magnitude = Math.Abs(bias[oc]);
                        for (int i = 0; i < kA; i++)
                        {
                            for (int j = 0; j < kW; j++)
                            {
                                long dot = 0;
                                for (int ch = 0; ch < c; ch++)
                                {
                                    for (int ky = 0; ky < k; ky++)
                                    {
                                        for (int kx = 0; kx < k; kx++)
                                        {
                                            int iy = y * s + ky - p, ix = xo * s + kx - p;
                                            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                                            {
                                                dot += activationPlanes[i][(iy * w + ix) * c + ch]
                                                    * weightPlanes[oc][j][(ch * k + ky) * k + kx];
                                            }
                                        }
                                    }
                                }
                                double coefficient = (double)v[b * kA + i] * alpha[oc * kW + j];
                                sum += coefficient * dot;
                                magnitude += Math.Abs(coefficient) * rowLength;
                            }
                        }
                        long at = (((long)b * ho + y) * wo + xo) * o + oc;
                        result[at] = sum;
                        scale[at] = magnitude;
                    }
                }
            }
        }
        return result;
    }
}
