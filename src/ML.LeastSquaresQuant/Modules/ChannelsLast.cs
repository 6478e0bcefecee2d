using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// The channels-last (NHWC) memory layout for 4-D image tensors, which TorchSharp does not expose: a tensor whose
/// memory is [N, H, W, C] viewed as [N, C, H, W]. libtorch keeps that layout through convolutions, batch norm and
/// element-wise operations, and on the CPU its convolutions then run oneDNN's brgemm kernels without reordering
/// the activations on every call, which made ResNet evaluation about a quarter faster on our 2-core machine. On the CPU every network runs
/// channels-last, whatever its width: <see cref="Convolution"/> explains why the NCHW kernels are avoided.
/// </summary>
internal static class ChannelsLast
{
    /// <summary>True when <paramref name="x"/> is 4-D and its memory is dense in N, H, W, C order.</summary>
    public static bool Is(Tensor x)
    {
        if (x.dim() != 4)
        {
            return false;
        }
        using var physical = x.permute(0, 2, 3, 1);
        return physical.is_contiguous();
    }

    /// <summary>
    /// <paramref name="x"/> in channels-last layout: an alias when it already is, otherwise one copy. Tensors that
    /// are not 4-D are returned as aliases.
    /// </summary>
    public static Tensor Convert(Tensor x)
    {
        if (x.dim() != 4 || Is(x))
        {
            return x.alias();
        }
        using var physical = x.permute(0, 2, 3, 1).contiguous();
        return physical.permute(0, 3, 1, 2);
    }

    /// <summary>
    /// The samples of <paramref name="x"/> [N, …] as rows [N, rest] without copying when the layout allows it:
    /// element order inside a row follows memory (NHWC for channels-last tensors), which per-sample statistics and
    /// element-wise maps do not depend on. <paramref name="channelsLast"/> tells <see cref="Restore"/> which layout
    /// to give the result back, so the layout is checked once per call.
    /// </summary>
    public static Tensor SampleRows(Tensor x, out bool channelsLast)
    {
        long batch = x.shape[0];
        channelsLast = Is(x);
        if (!channelsLast)
        {
            return x.reshape(batch, -1);
        }
        using var physical = x.permute(0, 2, 3, 1);
        return physical.reshape(batch, -1);
    }

    /// <summary>Reshapes rows from <see cref="SampleRows"/> back to the shape and layout of <paramref name="like"/>.</summary>
    public static Tensor Restore(Tensor rows, Tensor like, bool channelsLast)
    {
        if (!channelsLast)
        {
            return rows.reshape(like.shape);
        }
        using var physical = rows.reshape(like.shape[0], like.shape[2], like.shape[3], like.shape[1]);
        return physical.permute(0, 3, 1, 2);
    }
}
