using System;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// Scaled-binary quantization of the rows of a 2-D tensor: x ≈ v1·s1 + … + vk·sk with binary sign vectors
/// s_i = sign(r_{i−1}) taken greedily from the residual (sign(0) = +1) and per-row scalars v_i ≥ 0.
/// </summary>
/// <remarks>
/// <para>Rows are output channels for weights ([out, in·kh·kw]) and samples for activations ([N, C·H·W]).</para>
/// <para><c>ls-1</c>, <c>ls-2</c> and <c>ls-T</c> give the exact least-squares optimum over every element of the row
/// (the reference implementation only approximates <c>ls-2</c> and <c>ls-T</c>); <c>gf-k</c> is greedy.</para>
/// <para>Work stays on the tensor's device. On the CPU the exact <c>ls-2</c>/<c>ls-T</c> search runs a bracketing
/// kernel over the tensor's memory (no full sort); on other devices it is one sort plus prefix sums per row.</para>
/// </remarks>
public static class LeastSquaresQuantizer
{
    /// <summary>
    /// Computes the per-row scalars of <paramref name="scheme"/>: a tensor [rows, k] with, per row,
    /// <c>ls-1</c>: v; <c>ls-2</c>: v1, v2; <c>ls-T</c>: v; <c>gf-k</c>: v1..vk; <c>fp</c>: k = 0.
    /// </summary>
    /// <param name="rows">A 2-D floating-point tensor [rows, n], n ≥ 1, on any device. It is not modified.</param>
    /// <param name="scheme">The quantization scheme.</param>
    /// <returns>The scalars, with the dtype and device of <paramref name="rows"/>, detached from autograd.</returns>
    /// <exception cref="ArgumentException"><paramref name="rows"/> is not 2-D, not floating point, has no columns,
    /// or holds NaN or infinite values.</exception>
    public static Tensor ComputeScalars(Tensor rows, QuantScheme scheme)
    {
        TensorGuard.CheckRows(rows, nameof(rows));
        if (rows.shape[1] == 0 && rows.shape[0] > 0)
        {
            throw new ArgumentException($"The rows are empty: shape {TensorGuard.Shape(rows)} has no columns.", nameof(rows));
        }
        return ComputeScalarsCore(rows, scheme, validateFinite: true);
    }

    /// <summary>
    /// Reconstructs the quantized rows from <paramref name="scalars"/> by the foldable rule
    /// r0 = x, s_i = sign(r_{i−1}), r_i = r_{i−1} − v_i·s_i, x_q = Σ v_i·s_i (sign(0) = +1).
    /// </summary>
    /// <param name="rows">A 2-D floating-point tensor [rows, n].</param>
    /// <param name="scalars">The scalars [rows, k] from <see cref="ComputeScalars"/> (any rows-broadcastable shape
    /// [1, k] is accepted too, for shared scalars).</param>
    /// <param name="scheme">The scheme the scalars were computed for.</param>
    /// <returns>A new tensor shaped like <paramref name="rows"/>; <c>fp</c> returns a copy.</returns>
    /// <exception cref="ArgumentException">The shapes do not agree with each other or with the scheme.</exception>
    public static Tensor Quantize(Tensor rows, Tensor scalars, QuantScheme scheme)
    {
        TensorGuard.CheckRows(rows, nameof(rows));
        ArgumentNullException.ThrowIfNull(scalars);
        if (scalars.dim() != 2 || scalars.shape[1] != scheme.ScalarCount
            || (scalars.shape[0] != rows.shape[0] && scalars.shape[0] != 1))
        {
            throw new ArgumentException(
                $"Scalars of shape {TensorGuard.Shape(scalars)} do not fit rows {TensorGuard.Shape(rows)} for scheme " +
                $"{scheme}: expected [{rows.shape[0]}, {scheme.ScalarCount}].", nameof(scalars));
        }
        if (!scheme.IsQuantized)
        {
            return rows.clone();
        }
        return Reconstruct(rows, scalars, scheme);
    }

    /// <summary>The binary sign: +1 where x ≥ 0, −1 elsewhere (never 0).</summary>
    internal static Tensor BinarySign(Tensor x)
    {
        using var nonNegative = x.ge(0);
        // mul_ and sub_ return the same tensor object, which is the result: it must not be disposed here.
        return nonNegative.to_type(x.dtype).mul_(2).sub_(1);
    }

    /// <summary>Foldable reconstruction without argument checks (hot path of the modules).</summary>
    internal static Tensor Reconstruct(Tensor rows, Tensor scalars, QuantScheme scheme)
    {
        using var scope = NewDisposeScope();
        var v = scalars.to_type(rows.dtype);
        if (scheme.Kind == QuantSchemeKind.LeastSquaresTernary)
        {
            v = torch.cat([v, v], 1);
        }
        var result = FoldableReconstruction.Applies(rows) ? FoldableReconstruction.Run(rows, v) : ReconstructWithTensorOps(rows, v);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The device-independent reconstruction from expanded step scalars (the GPU path).</summary>
    internal static Tensor ReconstructWithTensorOps(Tensor rows, Tensor v)
    {
        using var scope = NewDisposeScope();
        long k = v.shape[1];
        Tensor result;
        if (k == 1)
        {
            result = BinarySign(rows).mul_(v);
        }
        else
        {
            var residual = rows.detach().clone();
            result = torch.zeros_like(rows);
            for (long i = 0; i < k; i++)
            {
                var step = BinarySign(residual).mul_(v.narrow(1, i, 1));
                result.add_(step);
                if (i + 1 < k)
                {
                    residual.sub_(step);
                }
            }
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Scalars without the argument checks; <paramref name="validateFinite"/> false avoids a GPU sync.</summary>
    internal static Tensor ComputeScalarsCore(Tensor rows, QuantScheme scheme, bool validateFinite)
    {
        using var scope = NewDisposeScope();
        using var guard = torch.no_grad();
        var x = rows.detach();
        long r = x.shape[0];
        var dtype = x.dtype;
        if (!scheme.IsQuantized || r == 0)
        {
            return torch.zeros(r, scheme.ScalarCount, dtype: dtype, device: x.device).MoveToOuterDisposeScope();
        }

        // On the CPU every scheme runs RowScalars on the rows in place (the same code the LsQuantize transform runs
        // row by row); other devices use tensor operations, which stay on the device.
        bool cpuKernel = x.device_type == DeviceType.CPU;
        if (validateFinite && !cpuKernel)
        {
            TensorGuard.CheckFinite(x, nameof(rows));
        }

        // Reduced-precision inputs are solved in float32 and returned in their own dtype.
        var work = dtype is ScalarType.Float16 or ScalarType.BFloat16 ? x.to_type(ScalarType.Float32) : x;
        Tensor scalars = scheme.Kind switch
        {
            _ when cpuKernel => SolveOnCpu(work, scheme, validateFinite),
            QuantSchemeKind.LeastSquares1 => work.abs().mean([1L], keepdim: true),
            QuantSchemeKind.GreedyFoldable => GreedyScalars(work, scheme.GreedyBits),
            QuantSchemeKind.LeastSquares2 => SortedSplitSolver.SolveTwoBit(work),
            _ => SortedSplitSolver.SolveTernary(work),
        };
        return scalars.to_type(dtype).MoveToOuterDisposeScope();
    }

    private static Tensor GreedyScalars(Tensor x, int bits)
    {
        var residual = x.clone();
        var columns = new Tensor[bits];
        for (int i = 0; i < bits; i++)
        {
            var v = residual.abs().mean([1L], keepdim: true);
            columns[i] = v;
            if (i + 1 < bits)
            {
                residual.sub_(BinarySign(residual).mul_(v));
            }
        }
        return torch.cat(columns, 1);
    }

    private static unsafe Tensor SolveOnCpu(Tensor x, QuantScheme scheme, bool validateFinite)
    {
        var contiguous = x.contiguous();
        int rowCount = checked((int)contiguous.shape[0]);
        int n = checked((int)contiguous.shape[1]);
        int k = scheme.ScalarCount;
        var result = new double[(long)rowCount * k];
        int nonFiniteRow;
        fixed (byte* basePtr = contiguous.bytes)
        {
            nonFiniteRow = contiguous.dtype == ScalarType.Float64
                ? SolveRows((double*)basePtr, rowCount, n, scheme, result)
                : SolveRows((float*)basePtr, rowCount, n, scheme, result);
        }
        GC.KeepAlive(contiguous);

        if (validateFinite && nonFiniteRow >= 0)
        {
            throw NonFiniteRow(nonFiniteRow);
        }
        return torch.tensor(result, [rowCount, k], ScalarType.Float64);
    }

    internal static ArgumentException NonFiniteRow(int row) =>
        new($"Row {row} contains NaN or infinite values; quantizing it would give a NaN model.", "rows");

    /// <summary>Solves every row in parallel; returns a row holding NaN or ±∞ (its scalars are NaN), or −1.</summary>
    private static unsafe int SolveRows<T>(T* data, int rowCount, int n, QuantScheme scheme, double[] result)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int k = scheme.ScalarCount;
        int nonFiniteRow = -1;
        nint basePtr = (nint)data;
        Parallel.For(0, rowCount, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => new T[n],
            (row, _, scratch) =>
            {
                var span = new ReadOnlySpan<T>((T*)basePtr + (long)row * n, n);
                if (!RowScalars.Solve(span, scheme, scratch, result.AsSpan(row * k, k)))
                {
                    nonFiniteRow = row;
                }
                return scratch;
            },
            _ => { });
        return nonFiniteRow;
    }
}
