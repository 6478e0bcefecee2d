using System;
using System.Linq;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Reference answers computed the slow, obvious way, in double.</summary>
internal static class BruteForce
{
    public static double Sign(double v) => v >= 0 ? 1 : -1;

    public static double SquaredError(double[] x, double[] xq) => x.Zip(xq, (a, b) => (a - b) * (a - b)).Sum();

    /// <summary>Smallest ls-2 error over every split of the sorted magnitudes into two non-empty clusters.</summary>
    public static double TwoBitBySplits(double[] x)
    {
        var a = x.Select(Math.Abs).OrderBy(v => v).ToArray();
        int n = a.Length;
        if (n == 1)
        {
            return 0;
        }
        double best = double.PositiveInfinity;
        for (int t = 1; t < n; t++)
        {
            double low = Mean(a, 0, t), high = Mean(a, t, n);
            best = Math.Min(best, Spread(a, 0, t, low) + Spread(a, t, n, high));
        }
        return best;
    }

    /// <summary>Smallest foldable ls-2 error over a dense grid of v1 (v2 optimal for each v1).</summary>
    public static double TwoBitByGrid(double[] x, int points = 4001)
    {
        double max = x.Max(Math.Abs), best = double.PositiveInfinity;
        for (int g = 0; g < points; g++)
        {
            double v1 = max * g / (points - 1);
            var r1 = x.Select(v => v - v1 * Sign(v)).ToArray();
            double v2 = r1.Average(Math.Abs);
            var xq = x.Select((v, i) => v1 * Sign(v) + v2 * Sign(r1[i])).ToArray();
            best = Math.Min(best, SquaredError(x, xq));
        }
        return best;
    }

    /// <summary>Smallest ls-T error over every split (t = 0 included): lower part → 0, upper part → its mean.</summary>
    public static double TernaryBySplits(double[] x)
    {
        var a = x.Select(Math.Abs).OrderBy(v => v).ToArray();
        int n = a.Length;
        double best = double.PositiveInfinity;
        for (int t = 0; t < n; t++)
        {
            best = Math.Min(best, Spread(a, 0, t, 0) + Spread(a, t, n, Mean(a, t, n)));
        }
        return best;
    }

    /// <summary>Smallest foldable ls-T error over a dense grid of v.</summary>
    public static double TernaryByGrid(double[] x, int points = 4001)
    {
        double max = x.Max(Math.Abs), best = double.PositiveInfinity;
        for (int g = 0; g < points; g++)
        {
            double v = max * g / (points - 1);
            var xq = x.Select(e => v * Sign(e) + v * Sign(e - v * Sign(e))).ToArray();
            best = Math.Min(best, SquaredError(x, xq));
        }
        return best;
    }

    private static double Mean(double[] a, int from, int to)
    {
        double s = 0;
        for (int i = from; i < to; i++) { s += a[i]; }
        return s / (to - from);
    }

    private static double Spread(double[] a, int from, int to, double center)
    {
        double s = 0;
        for (int i = from; i < to; i++) { s += (a[i] - center) * (a[i] - center); }
        return s;
    }

    /// <summary>k greedy residual steps: returns the scalars and the reconstruction.</summary>
    public static (double[] Scalars, double[] Quantized) Greedy(double[] x, int k)
    {
        var r = (double[])x.Clone();
        var xq = new double[x.Length];
        var scalars = new double[k];
        for (int i = 0; i < k; i++)
        {
            double v = r.Average(Math.Abs);
            scalars[i] = v;
            for (int j = 0; j < r.Length; j++)
            {
                double step = v * Sign(r[j]);
                xq[j] += step;
                r[j] -= step;
            }
        }
        return (scalars, xq);
    }
}
