using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>Copies of a module's tensors into managed arrays, for the C# kernels that keep their own copy of the
/// parameters they score with.</summary>
internal static class TensorCopy
{
    /// <summary>The values of <paramref name="tensor"/> as float32 in row-major order (no gradient, any device).</summary>
    public static float[] ToFloatArray(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        return tensor.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }
}
