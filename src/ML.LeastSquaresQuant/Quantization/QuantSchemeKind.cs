namespace ML.LeastSquaresQuant.Quantization;

/// <summary>The family of a <see cref="QuantScheme"/>.</summary>
public enum QuantSchemeKind
{
    /// <summary><c>fp</c>: full precision, the identity.</summary>
    FullPrecision = 0,

    /// <summary><c>ls-1</c>: one binary vector, v = mean(|x|) (exact least squares).</summary>
    LeastSquares1 = 1,

    /// <summary><c>ls-2</c>: two binary vectors with the exact least-squares scalars v1, v2.</summary>
    LeastSquares2 = 2,

    /// <summary><c>ls-T</c>: ternary levels −2v, 0, +2v with the exact least-squares v.</summary>
    LeastSquaresTernary = 3,

    /// <summary><c>gf-k</c>: k binary vectors with greedy residual scalars (not optimal for k ≥ 2).</summary>
    GreedyFoldable = 4,
}
