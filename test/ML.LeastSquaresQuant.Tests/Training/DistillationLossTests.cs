using System;
using System.Linq;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Training;

[TestClass]
public sealed class DistillationLossTests
{
    private static readonly double[][] Student = [[1.0, 2.0, 0.5], [0.2, -1.0, 3.0], [2.0, 2.0, -2.0], [0.0, 0.3, 0.1]];
    private static readonly double[][] Teacher = [[0.5, 3.0, 0.0], [4.0, -2.0, 1.0], [1.0, 0.0, 0.0], [-1.0, 2.5, 0.5]];
    private static readonly long[] Labels = [1, 2, 0, 1]; // the teacher is wrong on sample 1 (it says 0)

    private static double[] Softmax(double[] z, double t)
    {
        var e = z.Select(v => Math.Exp(v / t)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static double KdByHand(int i, double t)
    {
        var p = Softmax(Teacher[i], t);
        var q = Softmax(Student[i], t);
        return t * t * p.Select((pc, c) => pc * (Math.Log(pc) - Math.Log(q[c]))).Sum();
    }

    private static double CeByHand(int i) => -Math.Log(Softmax(Student[i], 1)[Labels[i]]);

    private static double Loss(double temperature, bool correction)
    {
        using var scope = NewDisposeScope();
        var s = torch.tensor(Student.SelectMany(r => r).ToArray(), [4, 3]);
        var t = torch.tensor(Teacher.SelectMany(r => r).ToArray(), [4, 3]);
        var y = torch.tensor(Labels);
        return DistillationLoss.Compute(s, t, y, temperature, correction).item<double>();
    }

    [TestMethod]
    public void TestKdEqualsHandComputation()
    {
        foreach (double t in new[] { 1.0, 5.0 })
        {
            double expected = Enumerable.Range(0, 4).Average(i => KdByHand(i, t));
            Assert.AreEqual(expected, Loss(t, correction: false), 1e-12, $"T = {t}");
        }
    }

    [TestMethod]
    public void TestTeacherCorrectionUsesCrossEntropyExactlyWhereTheTeacherIsWrong()
    {
        double expected = (KdByHand(0, 5) + CeByHand(1) + KdByHand(2, 5) + KdByHand(3, 5)) / 4;
        Assert.AreEqual(expected, Loss(5, correction: true), 1e-12);
        // The reference's defect (comparing the teacher with itself) would give the plain KD loss; ours differs.
        Assert.AreNotEqual(Loss(5, correction: false), Loss(5, correction: true), 1e-6);
    }

    [TestMethod]
    public void TestGradientFlowsToStudentOnly()
    {
        using var scope = NewDisposeScope();
        var s = torch.tensor(Student.SelectMany(r => r).ToArray(), [4, 3]).requires_grad_(true);
        var t = torch.tensor(Teacher.SelectMany(r => r).ToArray(), [4, 3]).requires_grad_(true);
        DistillationLoss.Compute(s, t, torch.tensor(Labels), 5, true).backward();
        Assert.IsNotNull(s.grad);
        Assert.IsNull(t.grad);
    }

    [TestMethod]
    public void TestBadArguments()
    {
        using var scope = NewDisposeScope();
        Assert.ThrowsExactly<ArgumentException>(() => DistillationLoss.Compute(torch.zeros(4, 3), torch.zeros(4, 5), torch.zeros(4, dtype: ScalarType.Int64), 5, true));
        Assert.ThrowsExactly<ArgumentException>(() => DistillationLoss.Compute(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(4, dtype: ScalarType.Int64), 0, true));
    }
}
