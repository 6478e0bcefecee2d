using System;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// The foldable reconstruction x_q = Σ v_i·sign(r_{i−1}) in one pass over CPU memory, instead of a dozen
/// element-wise tensor operations. It performs the same floating-point operations in the same order as the
/// tensor path (step = sign·v; result += step; residual −= step), so both give identical bits.
/// </summary>
internal static class FoldableReconstruction
{
    /// <summary>True when the fused kernel applies: CPU, float32 or float64.</summary>
    public static bool Applies(Tensor rows) =>
        rows.device_type == TorchSharp.DeviceType.CPU && rows.dtype is ScalarType.Float32 or ScalarType.Float64;

    /// <summary>Reconstructs [R, n] rows from [R or 1, k] step scalars (ls-T already expanded to two columns).</summary>
    public static Tensor Run(Tensor rows, Tensor steps)
    {
        using var scope = NewDisposeScope();
        var x = rows.detach().contiguous();
        var v = steps.detach().to_type(x.dtype).contiguous();
        var result = torch.empty_like(x);
        if (x.dtype == ScalarType.Float32)
        {
            Kernel<float>(x, v, result);
        }
        else
        {
            Kernel<double>(x, v, result);
        }
        return result.MoveToOuterDisposeScope();
    }

    private static unsafe void Kernel<T>(Tensor x, Tensor v, Tensor result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rowCount = checked((int)x.shape[0]);
        int n = checked((int)x.shape[1]);
        int k = checked((int)v.shape[1]);
        bool shared = v.shape[0] == 1;
        fixed (byte* xBytes = x.bytes, vBytes = v.bytes, outBytes = result.bytes)
        {
            nint xp = (nint)xBytes, vp = (nint)vBytes, op = (nint)outBytes;
            Parallel.For(0, rowCount, () => new T[n], (row, _, residual) =>
            {
                Row(new ReadOnlySpan<T>((T*)xp + (long)row * n, n), new ReadOnlySpan<T>((T*)vp + (shared ? 0 : (long)row * k), k),
                    new Span<T>((T*)op + (long)row * n, n), residual);
                return residual;
            }, _ => { });
        }
        GC.KeepAlive(x);
        GC.KeepAlive(v);
        GC.KeepAlive(result);
    }

    /// <summary>
    /// Reconstructs one row, output = Σ v_i·sign(r_{i−1}) with r_0 = input and r_i = r_{i−1} − v_i·sign(r_{i−1}): the
    /// one CPU implementation of the rule (its AVX2 form is <see cref="VectorKernels.Reconstruct"/>, which gives the
    /// same bits; <see cref="LeastSquaresQuantizer.ReconstructWithTensorOps"/> is the same rule for other devices).
    /// </summary>
    /// <param name="input">The row's values.</param>
    /// <param name="scalars">The step scalars v_1..v_k (ls-T's v given twice).</param>
    /// <param name="output">Receives the reconstruction; as long as <paramref name="input"/>.</param>
    /// <param name="residual">Working space as long as <paramref name="input"/>; overwritten.</param>
    /// <param name="signs">Empty, or k·n bits (LSB first, step-major) set where step i's sign is +1: the binary codes.</param>
    public static void Row<T>(ReadOnlySpan<T> input, ReadOnlySpan<T> scalars, Span<T> output, Span<T> residual, Span<byte> signs = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = input.Length, k = scalars.Length;
        if (signs.IsEmpty && typeof(T) == typeof(float) && VectorKernels.IsSupported)
        {
            VectorKernels.Reconstruct(MemoryMarshal.Cast<T, float>(input), MemoryMarshal.Cast<T, float>(scalars), MemoryMarshal.Cast<T, float>(output));
            return;
        }
        if (k == 1 && signs.IsEmpty)
        {
            T s = scalars[0];
            for (int j = 0; j < n; j++)
            {
                output[j] = Sign(input[j]) * s;
            }
            return;
        }
        input.CopyTo(residual);
        output.Clear();
        for (int i = 0; i < k; i++)
        {
            T s = scalars[i];
            for (int j = 0; j < n; j++)
            {
                T sign = Sign(residual[j]);
                T step = sign * s;
                output[j] += step;
                residual[j] -= step;
                if (!signs.IsEmpty && sign > T.Zero)
                {
                    int bit = i * n + j;
                    signs[bit >> 3] |= (byte)(1 << (bit & 7));
                }
            }
        }
    }

    /// <summary>The binary sign (+1 for x ≥ 0, including −0; −1 otherwise) without a branch: signs are unpredictable.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static T Sign<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool nonNegative = x >= T.Zero;
        return T.CreateTruncating(2 * System.Runtime.CompilerServices.Unsafe.As<bool, byte>(ref nonNegative) - 1);
    }
}
