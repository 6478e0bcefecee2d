using System;
using System.Linq;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>Argument checks for tensors handed to the quantization math: fail in C#, never in native code.</summary>
internal static class TensorGuard
{
    public static void CheckRows(Tensor rows, string paramName)
    {
        ArgumentNullException.ThrowIfNull(rows, paramName);
        if (rows.IsInvalid)
        {
            throw new ArgumentException("The tensor has been disposed.", paramName);
        }
        if (rows.dim() != 2)
        {
            throw new ArgumentException(
                $"Expected a 2-D tensor [rows, n] but got shape [{string.Join(", ", rows.shape)}] (rank {rows.dim()}).", paramName);
        }
        if (!IsSupportedFloat(rows.dtype))
        {
            throw new ArgumentException(
                $"Expected a floating-point tensor (float32, float64, float16 or bfloat16) but got {rows.dtype}.", paramName);
        }
    }

    public static bool IsSupportedFloat(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>Throws when the tensor holds NaN or ±∞ (a host synchronisation on a GPU).</summary>
    public static void CheckFinite(Tensor rows, string paramName)
    {
        using var finite = rows.isfinite();
        using var all = finite.all();
        if (!all.item<bool>())
        {
            throw new ArgumentException("The rows contain NaN or infinite values; quantizing them would give a NaN model.", paramName);
        }
    }

    public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
