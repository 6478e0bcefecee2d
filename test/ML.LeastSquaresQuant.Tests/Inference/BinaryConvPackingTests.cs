using System;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Quantization;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Inference;

/// <summary>
/// The bit-planes reproduce <c>LeastSquaresQuantizer.Quantize</c> (the fused <c>FoldableReconstruction</c>) bit for
/// bit, for weights and activations, with the scalars the quantizer itself computes.
/// </summary>
[TestClass]
public sealed class BinaryConvPackingTests
{
    private static (float[] Scalars, float[] Quantized) Quantize(float[] values, int rows, string schemeText)
    {
        using var scope = NewDisposeScope();
        var scheme = QuantScheme.Parse(schemeText);
        var t = torch.tensor(values, [rows, values.Length / rows]);
        var scalars = LeastSquaresQuantizer.ComputeScalars(t, scheme);
        var quantized = LeastSquaresQuantizer.Quantize(t, scalars, scheme);
        if (scheme.Kind == QuantSchemeKind.LeastSquaresTernary)
        {
            scalars = torch.cat([scalars, scalars], 1);
        }
        return (scalars.contiguous().data<float>().ToArray(), quantized.contiguous().data<float>().ToArray());
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, what);
        for (int e = 0; e < expected.Length; e++)
        {
            Assert.AreEqual(BitConverter.SingleToInt32Bits(expected[e]), BitConverter.SingleToInt32Bits(actual[e]),
                $"{what}: element {e} is {actual[e]}, expected {expected[e]}.");
        }
    }

    [TestMethod]
    [DataRow("ls-1", 7, 5, 3)]
    [DataRow("ls-2", 7, 5, 3)]
    [DataRow("ls-T", 3, 70, 1)]
    [DataRow("gf-3", 5, 23, 3)]
    [DataRow("ls-2", 2, 130, 5)]
    public void TestWeightReconstructionMatchesQuantizerBitForBit(string scheme, int o, int c, int k)
    {
        var latent = BinaryConvTests.RandomValues(new Random(o * 31 + c * 7 + k), (long)o * c * k * k);
        var (alpha, expected) = Quantize(latent, o, scheme);
        int planes = alpha.Length / o;
        var packed = PackedConvWeights.FromLatent(latent, alpha, o, c, k, planes);
        AssertSameBits(expected, packed.Reconstruct(), scheme);

        // The storage form round-trips through its constructor, and the documented bit layout holds.
        var copy = new PackedConvWeights(o, c, k, planes, packed.Scalars, packed.Signs);
        AssertSameBits(expected, copy.Reconstruct(), scheme + " (copy)");
        // The engine's kernel layout gives the storage form back byte for byte (a layer that keeps only that layout
        // is saved from it).
        var back = packed.ToKernelLayout().ToPacked();
        CollectionAssert.AreEqual(packed.Signs, back.Signs, $"{scheme}: signs after the kernel layout");
        AssertSameBits(packed.Scalars, back.Scalars, scheme + " scalars after the kernel layout");
        int rowLength = c * k * k;
        var reference = BinaryConvTests.Planes(latent.AsSpan(0, rowLength), alpha.AsSpan(0, planes));
        for (int e = 0; e < rowLength; e++)
        {
            bool bit = (packed.Signs[(planes - 1) * o * packed.RowBytes + e / 8] >> (e % 8) & 1) != 0;
            Assert.AreEqual(reference[planes - 1][e] > 0, bit, $"{scheme}: plane {planes - 1}, row 0, element {e}.");
        }
    }

    [TestMethod]
    [DataRow("ls-1", 70)]
    [DataRow("ls-2", 70)]
    [DataRow("ls-T", 70)]
    [DataRow("gf-3", 70)]
    // Words of 16, 32 and 48 channels (the AVX-512 packing's register counts), alone and after a full word.
    [DataRow("ls-2", 16)]
    [DataRow("gf-3", 32)]
    [DataRow("ls-2", 48)]
    [DataRow("ls-T", 112)]
    public void TestActivationPlanesMatchQuantizerBitForBit(string scheme, int c)
    {
        const int n = 3, h = 5, w = 3;
        var x = BinaryConvTests.RandomValues(new Random(scheme.Length + c), n * h * w * c);
        var (v, expected) = Quantize(x, n, scheme);
        int planes = v.Length / n;
        var packed = new PackedActivations();
        packed.Pack(x, v, n, h, w, c, planes);

        long planeStride = (long)h * w * packed.WordsPerPixel;
        var rebuilt = new float[x.Length];
        for (int b = 0; b < n; b++)
        {
            for (int pixel = 0; pixel < h * w; pixel++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    float acc = 0;
                    for (int i = 0; i < planes; i++)
                    {
                        ulong word = packed.Bits[b * packed.SampleStride + i * planeStride + pixel * packed.WordsPerPixel + ch / 64];
                        float step = ((word >> (ch % 64) & 1) != 0 ? 1f : -1f) * v[b * planes + i];
                        acc = planes == 1 ? step : acc + step;
                    }
                    rebuilt[(b * h * w + pixel) * c + ch] = acc;
                }
                // Tail bits beyond C must be zero: the kernels count them as agreeing with the weights' zero bits.
                for (int i = 0; i < planes; i++)
                {
                    ulong last = packed.Bits[b * packed.SampleStride + i * planeStride + (pixel + 1) * packed.WordsPerPixel - 1];
                    Assert.AreEqual(0UL, last >> (c % 64), "tail bits");
                }
            }
        }
        AssertSameBits(expected, rebuilt, scheme);
    }
}
