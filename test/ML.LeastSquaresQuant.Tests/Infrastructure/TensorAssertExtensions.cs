using System.Linq;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

internal static class TensorAssertExtensions
{
    /// <summary>Same shape, same dtype and every element equal.</summary>
    public static bool BitEqual(this Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype)
        {
            return false;
        }
        using var eq = a.detach().eq(b.detach());
        using var all = eq.all();
        return all.item<bool>();
    }
}
