using System;
using ML.LeastSquaresQuant.Quantization;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Quantization;

[TestClass]
public sealed class SplitScoresTests
{
    [TestMethod]
    [DataRow(0, 10, 11)]   // the first candidate is t = 0 and the last t = n: both no split
    [DataRow(3, 40, 30)]   // every candidate a split, a vector tail of 3
    [DataRow(1, 9, 8)]     // the last candidate is t = n − 1
    [DataRow(0, 2, 1)]     // scalar only
    public void TestScoresEqualTheScalarFormulaBitForBit(int first, int n, int candidates)
    {
        var random = new Random(first * 100 + n);
        var prefixes = new double[candidates];
        double prefix = random.NextDouble();
        for (int j = 0; j < candidates; j++)
        {
            prefixes[j] = prefix;
            prefix += random.NextDouble() * 3;
        }
        double total = prefix + random.NextDouble();
        var scores = new double[candidates];
        SplitScores.TwoBit(prefixes, scores, first, n, total);
        for (int j = 0; j < candidates; j++)
        {
            int t = first + j;
            double expected = t >= 1 && t <= n - 1
                ? prefixes[j] * prefixes[j] / t + (total - prefixes[j]) * (total - prefixes[j]) / (n - t)
                : double.NegativeInfinity;
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(scores[j]),
                $"split t = {t} of {n}: {scores[j]} instead of {expected}");
        }
    }
}
