using System;
using ML.LeastSquaresQuant.Inference;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Inference;

/// <summary>
/// The C# kernels of the full-precision layers (<see cref="FloatConv2d"/>, <see cref="GlobalPoolLinear"/>) against
/// brute force: within float32 rounding of a float64 direct computation, and bit for bit the documented chain of
/// fused multiply-adds computed one value at a time (which is what makes every vector path give the same bits).
/// </summary>
[TestClass]
public sealed class FloatKernelTests
{
    [TestMethod]
    [DataRow(2, 3, 64, 3, 1, 1, 7, 5, true)]     // CIFAR stem shape, odd image
    [DataRow(1, 5, 37, 3, 2, 1, 9, 6, false)]    // stride 2, output channels not a multiple of 8 or 32
    [DataRow(3, 64, 128, 1, 2, 0, 8, 7, false)]  // down-sampling shortcut
    [DataRow(1, 1, 16, 7, 2, 3, 11, 11, true)]   // ImageNet stem shape, one input channel
    [DataRow(2, 17, 40, 5, 1, 2, 4, 3, true)]    // padding wider than half the image
    [DataRow(1, 2, 3, 3, 3, 0, 3, 3, false)]     // a single output pixel
    public void TestConvolutionIsTheDocumentedChainOfFusedMultiplyAdds(int n, int c, int o, int k, int s, int p, int h, int w, bool bias)
    {
        var random = new Random(n * 1000 + c * 10 + o);
        var weight = Values(random, o * c * k * k);
        var b = bias ? Values(random, o) : [];
        var x = Values(random, n * h * w * c);
        var conv = new FloatConv2d(weight, b, o, c, k, s, p);
        int ho = conv.OutputSize(h), wo = conv.OutputSize(w);
        Assert.AreEqual((h + 2 * p - k) / s + 1, ho);
        var y = new float[n * ho * wo * o];
        Run(conv, x, n, h, w, y);

        for (int i = 0; i < n; i++)
        {
            for (int oy = 0; oy < ho; oy++)
            {
                for (int ox = 0; ox < wo; ox++)
                {
                    for (int oc = 0; oc < o; oc++)
                    {
                        float chain = 0;
                        double exact = 0, magnitude = 0;
                        for (int ky = 0; ky < k; ky++)
                        {
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = oy * s - p + ky, ix = ox * s - p + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                {
                                    continue;
                                }
                                for (int ci = 0; ci < c; ci++)
                                {
                                    float a = x[((i * h + iy) * w + ix) * c + ci], wt = weight[((oc * c + ci) * k + ky) * k + kx];
                                    chain = MathF.FusedMultiplyAdd(wt, a, chain);
                                    exact += (double)wt * a;
                                    magnitude += Math.Abs((double)wt * a);
                                }
                            }
                        }
                        float expected = chain + (bias ? b[oc] : 0f);
                        float actual = y[((i * ho + oy) * wo + ox) * o + oc];
                        Assert.AreEqual(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual),
                            $"sample {i}, pixel ({oy}, {ox}), channel {oc}: {actual} vs {expected}");
                        Assert.AreEqual(exact + (bias ? b[oc] : 0), actual, 1e-5 * (magnitude + 1), "against float64");
                    }
                }
            }
        }
    }

    [TestMethod]
    public void TestConvolutionRefusesImagesTooSmallForTheKernelAndAcceptsAnEmptyBatch()
    {
        var conv = new FloatConv2d(new float[4 * 2 * 9], [], 4, 2, 3, 1, 0);
        Assert.ThrowsExactly<ArgumentException>(() => Run(conv, new float[2 * 2 * 2], 1, 2, 2, new float[4]));
        Assert.ThrowsExactly<ArgumentException>(() => Run(conv, new float[5 * 5 * 2 - 1], 1, 5, 5, new float[3 * 3 * 4]));
        Run(conv, [], 0, 5, 5, []);
        Assert.ThrowsExactly<ArgumentException>(() => new FloatConv2d(new float[10], [], 4, 2, 3, 1, 0));
        Assert.ThrowsExactly<ArgumentException>(() => new FloatConv2d(new float[4 * 2 * 9], new float[3], 4, 2, 3, 1, 0));
    }

    [TestMethod]
    [DataRow(2, 13, 10, 5, true)]
    [DataRow(3, 64, 3, 16, false)]
    [DataRow(1, 512, 100, 1, true)]
    public void TestHeadIsTheMeanThenTheDocumentedChain(int n, int c, int classes, int pixels, bool bias)
    {
        var random = new Random(c + classes);
        var weight = Values(random, classes * c);
        var b = bias ? Values(random, classes) : [];
        var x = Values(random, n * pixels * c);
        var head = new GlobalPoolLinear(weight, b, classes, c);
        var logits = new float[n * classes];
        head.Forward(x, n, pixels, logits);
        Assert.ThrowsExactly<ArgumentException>(() => head.Forward(x.AsSpan(1), n, pixels, logits));
        for (int i = 0; i < n; i++)
        {
            var mean = new float[c];
            var exactMean = new double[c];
            for (int ch = 0; ch < c; ch++)
            {
                float sum = 0;
                for (int p = 0; p < pixels; p++)
                {
                    sum += x[(i * pixels + p) * c + ch];
                    exactMean[ch] += x[(i * pixels + p) * c + ch];
                }
                mean[ch] = sum / pixels;
                exactMean[ch] /= pixels;
            }
            for (int o = 0; o < classes; o++)
            {
                float chain = 0;
                double exact = bias ? b[o] : 0;
                for (int ch = 0; ch < c; ch++)
                {
                    chain = MathF.FusedMultiplyAdd(weight[o * c + ch], mean[ch], chain);
                    exact += weight[o * c + ch] * exactMean[ch];
                }
                float expected = chain + (bias ? b[o] : 0f);
                Assert.AreEqual(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(logits[i * classes + o]),
                    $"sample {i}, class {o}: {logits[i * classes + o]} vs {expected}");
                Assert.AreEqual(exact, logits[i * classes + o], 1e-4, "against float64");
            }
        }
    }

    private static void Run(FloatConv2d conv, float[] x, int n, int h, int w, float[] y) => conv.Forward(x, n, h, w, y);

    private static float[] Values(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }
}
