using System;
using ML.LeastSquaresQuant.Inference;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Inference;

/// <summary>The fused batch norm + clamp against libtorch's own batch norm and clamp, bit for bit.</summary>
[TestClass]
public sealed class ChannelAffineTests
{
    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    [DataRow(6)]
    [DataRow(12)]
    [DataRow(16)]
    [DataRow(17)]
    [DataRow(64)]
    [DataRow(100)]
    public void TestMatchesLibtorchBatchNormAndClampBitForBit(int channels)
    {
        using var scope = NewDisposeScope();
        manual_seed(channels);
        using var norm = nn.BatchNorm2d(channels);
        using (no_grad())
        {
            norm.running_mean!.copy_(randn(channels));
            norm.running_var!.copy_(rand(channels) * 3 + 0.01);
            norm.weight!.copy_(randn(channels));
            norm.bias!.copy_(randn(channels));
        }
        norm.eval();
        // Channels-last input, as the networks run on the CPU.
        var x = (randn(5, 8, 8, channels) * 3).permute(0, 3, 1, 2);
        using var noGrad = no_grad();
        var normalized = norm.call(x);
        foreach (var (lower, upper) in new[] { (-2.0, 2.0), (0.0, double.PositiveInfinity), (double.NegativeInfinity, double.PositiveInfinity) })
        {
            var expected = normalized.clamp(lower, upper)
                .permute(0, 2, 3, 1).contiguous().data<float>().ToArray();
            var map = ChannelAffine.FromBatchNorm(norm.running_mean!.data<float>().ToArray(), norm.running_var!.data<float>().ToArray(),
                norm.weight!.data<float>().ToArray(), norm.bias!.data<float>().ToArray(), norm.eps, lower, upper);
            var input = x.permute(0, 2, 3, 1).contiguous().data<float>().ToArray();
            var actual = new float[input.Length];
            map.Apply(input, actual);
            for (int i = 0; i < actual.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                {
                    Assert.Fail($"C={channels}, clamp [{lower}, {upper}]: element {i} is {actual[i]:R}, libtorch gives {expected[i]:R}");
                }
            }
        }
    }

    [TestMethod]
    public void TestRejectsStatisticsOfDifferentLengths() =>
        Assert.ThrowsExactly<ArgumentException>(() => ChannelAffine.FromBatchNorm(new float[3], new float[3], new float[2], new float[3], 1e-5, -1, 1));
}
