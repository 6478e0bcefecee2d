namespace ML.LeastSquaresQuant.Inference;

/// <summary>Output vectors per call of a kernel block (<see cref="Avx512Kernels"/>, <see cref="Avx2Kernels"/>), as
/// a type argument so the JIT compiles one loop per width without the unused vectors.</summary>
internal interface IVectorCount
{
    /// <summary>1, 2 or 4.</summary>
    static abstract int Vectors { get; }
}

/// <summary>One output vector.</summary>
internal readonly struct OneVector : IVectorCount
{
    /// <inheritdoc/>
    public static int Vectors => 1;
}

/// <summary>Two output vectors (on AVX-512, a 16-channel layer's whole output in one pass over its window).</summary>
internal readonly struct TwoVectors : IVectorCount
{
    /// <inheritdoc/>
    public static int Vectors => 2;
}

/// <summary>Four output vectors.</summary>
internal readonly struct FourVectors : IVectorCount
{
    /// <inheritdoc/>
    public static int Vectors => 4;
}
