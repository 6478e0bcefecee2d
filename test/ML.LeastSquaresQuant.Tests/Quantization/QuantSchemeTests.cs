using System;
using ML.LeastSquaresQuant.Quantization;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Quantization;

[TestClass]
public sealed class QuantSchemeTests
{
    [TestMethod]
    [DataRow("fp", QuantSchemeKind.FullPrecision, 0, 0)]
    [DataRow("ls-1", QuantSchemeKind.LeastSquares1, 0, 1)]
    [DataRow("ls-2", QuantSchemeKind.LeastSquares2, 0, 2)]
    [DataRow("ls-T", QuantSchemeKind.LeastSquaresTernary, 0, 1)]
    [DataRow("gf-1", QuantSchemeKind.GreedyFoldable, 1, 1)]
    [DataRow("gf-3", QuantSchemeKind.GreedyFoldable, 3, 3)]
    [DataRow("gf-24", QuantSchemeKind.GreedyFoldable, 24, 24)]
    public void TestParseValidNamesAndRoundTrip(string name, QuantSchemeKind kind, int bits, int scalars)
    {
        var scheme = QuantScheme.Parse(name);
        Assert.AreEqual(kind, scheme.Kind);
        Assert.AreEqual(bits, scheme.GreedyBits);
        Assert.AreEqual(scalars, scheme.ScalarCount);
        Assert.AreEqual(name, scheme.ToString());
        Assert.AreEqual(scheme, QuantScheme.Parse(" " + name + " "));
    }

    [TestMethod]
    [DataRow("ls-3")]
    [DataRow("gf-0")]
    [DataRow("gf-x")]
    [DataRow("gf-")]
    [DataRow("gf-01")]
    [DataRow("gf-25")]
    [DataRow("")]
    [DataRow("LS-1")]
    [DataRow("ls-t")]
    [DataRow("binary")]
    public void TestParseInvalidNameNamesInputAndValidSchemes(string name)
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => QuantScheme.Parse(name));
        StringAssert.Contains(ex.Message, "'" + name + "'");
        foreach (var valid in new[] { "fp", "ls-1", "ls-2", "ls-T", "gf-k" })
        {
            StringAssert.Contains(ex.Message, valid);
        }
        Assert.IsFalse(QuantScheme.TryParse(name, out _));
    }

    [TestMethod]
    public void TestNullAndGreedyFactory()
    {
        Assert.ThrowsExactly<ArgumentException>(() => QuantScheme.Parse(null!));
        Assert.AreEqual(QuantScheme.Parse("gf-2"), QuantScheme.Greedy(2));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => QuantScheme.Greedy(0));
        Assert.AreEqual(2, QuantScheme.LeastSquaresTernary.BinaryVectorCount);
        Assert.AreEqual(QuantScheme.FullPrecision, default(QuantScheme));
    }
}
