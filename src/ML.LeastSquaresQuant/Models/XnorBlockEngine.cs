using System;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// An <see cref="XnorBlock"/> scored as one fused pass on the binary engine: each batch norm, clamp, quantizer and
/// packing runs as one sweep per sample, and each convolution's nonlinearity and shortcut addition run on its
/// output pixels as they are produced. A down-sampling shortcut runs on <see cref="FloatConv2d"/> and
/// <see cref="ChannelAffine"/> when its convolution has its C# kernel, otherwise on libtorch. The
/// arithmetic is that of the modules run one after another (<see cref="ChannelAffine"/>, <see cref="ConvEpilogue"/>),
/// so the block gives the same values as its convolutions scored on the engine one by one.
/// </summary>
internal sealed class XnorBlockEngine
{
    private readonly BinaryConvolution _conv1, _conv2;
    private readonly ChannelAffine _map1, _map2;
    private readonly ConvEpilogue _nonlin1, _nonlin2;
    private readonly nn.Module<Tensor, Tensor>? _shortcut;
    private readonly (FloatConv2d Conv, ChannelAffine Norm)? _cpuShortcut;
    private readonly bool _doubleShortcut;

    private XnorBlockEngine(BinaryConvolution conv1, ChannelAffine map1, ConvEpilogue nonlin1, BinaryConvolution conv2,
        ChannelAffine map2, ConvEpilogue nonlin2, nn.Module<Tensor, Tensor>? shortcut, bool doubleShortcut)
    {
        (_conv1, _map1, _nonlin1, _conv2, _map2, _nonlin2) = (conv1, map1, nonlin1, conv2, map2, nonlin2);
        _shortcut = shortcut;
        _cpuShortcut = CpuShortcut(shortcut);
        _doubleShortcut = doubleShortcut;
    }

    /// <summary>
    /// Whether a block of these layers can run fused: both convolutions supported by the engine
    /// (<see cref="BinaryConvolution.Supports"/>), batch norms with running statistics, and nonlinearities the
    /// epilogue knows (ReLU, PReLU, none).
    /// </summary>
    public static bool Supports(QuantConv2d conv1, nn.Module<Tensor, Tensor> bn1, nn.Module<Tensor, Tensor> nonlin1,
        QuantConv2d conv2, nn.Module<Tensor, Tensor> bn2, nn.Module<Tensor, Tensor> nonlin2) =>
        BinaryConvolution.Supports(conv1) && BinaryConvolution.Supports(conv2)
        && bn1 is BatchNorm2d { running_mean: not null } && bn2 is BatchNorm2d { running_mean: not null }
        && Epilogue(nonlin1, (int)conv1.OutChannels) is not null && Epilogue(nonlin2, (int)conv2.OutChannels) is not null;

    /// <summary>
    /// The engine for a block whose two convolutions both run on the engine and whose batch norms keep running
    /// statistics; null otherwise. Like the convolutions' engines it copies what it needs (statistics, slopes) now,
    /// so it serves a network whose parameters no longer change, as the transformer's.
    /// </summary>
    public static XnorBlockEngine? Create(BinaryConvolution? conv1, nn.Module<Tensor, Tensor> bn1, nn.Module<Tensor, Tensor> nonlin1,
        BinaryConvolution? conv2, nn.Module<Tensor, Tensor> bn2, nn.Module<Tensor, Tensor> nonlin2,
        nn.Module<Tensor, Tensor> shortcut, bool doubleShortcut)
    {
        if (conv1 is null || conv2 is null || bn1 is not BatchNorm2d norm1 || bn2 is not BatchNorm2d norm2
            || norm1.running_mean is null || norm2.running_mean is null)
        {
            return null;
        }
        var epilogue1 = Epilogue(nonlin1, conv1.Layer.Weights.OutChannels);
        var epilogue2 = Epilogue(nonlin2, conv2.Layer.Weights.OutChannels);
        if (epilogue1 is null || epilogue2 is null)
        {
            return null;
        }
        return new XnorBlockEngine(conv1, Map(norm1, -conv1.ClampBound, conv1.ClampBound), epilogue1,
            conv2, Map(norm2, -conv2.ClampBound, conv2.ClampBound), epilogue2, shortcut is Identity ? null : shortcut, doubleShortcut);
    }

    /// <summary>A down-sampling shortcut (1×1 convolution + batch norm with running statistics) whose convolution
    /// scores on its C# kernel, as that kernel and a batch norm with libtorch's arithmetic; null for any other.</summary>
    private static (FloatConv2d, ChannelAffine)? CpuShortcut(nn.Module<Tensor, Tensor>? shortcut)
    {
        if (shortcut is not Sequential)
        {
            return null;
        }
        var parts = System.Linq.Enumerable.ToList(shortcut.children());
        return parts is [Conv2dLayer { CpuKernel: { } conv }, BatchNorm2d { running_mean: not null } norm]
            ? (conv, Map(norm, double.NegativeInfinity, double.PositiveInfinity))
            : null;
    }

    /// <summary>Input channels C.</summary>
    public int InChannels => _map1.Channels;

    /// <summary>Output channels O.</summary>
    public int OutChannels => _conv1.Layer.Weights.OutChannels;

    /// <summary>Output height or width for an input of <paramref name="size"/> pixels.</summary>
    public int OutputSize(int size) => _conv1.Layer.OutputSize(size);

    /// <summary>The block's output for <paramref name="x"/> [N, C, H, W] (CPU float32), channels-last, in new tensors.</summary>
    public unsafe Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = CheckInput(x);
        int n = checked((int)input.shape[0]), ho = OutputSize(checked((int)input.shape[2])), wo = OutputSize(checked((int)input.shape[3]));
        var first = empty(n, ho, wo, OutChannels);
        var output = empty(n, ho, wo, OutChannels);
        fixed (byte* fp = first.bytes, op = output.bytes)
        {
            Forward(input, (float*)fp, (float*)op);
        }
        return output.permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The block's output for <paramref name="x"/> [N, C, H, W] (CPU float32) written NHWC to <paramref name="output"/>,
    /// with <paramref name="first"/> (same size) holding the first convolution's output; each N·Ho·Wo·O floats.
    /// </summary>
    public unsafe void Forward(Tensor x, float* first, float* output)
    {
        using var scope = NewDisposeScope();
        var input = CheckInput(x);
        int n = checked((int)input.shape[0]), h = checked((int)input.shape[2]), w = checked((int)input.shape[3]);
        var inputMemory = input.permute(0, 2, 3, 1).contiguous();
        int ho = OutputSize(h), wo = OutputSize(w);
        long length = (long)n * ho * wo * OutChannels;
        fixed (byte* xp = inputMemory.bytes)
        {
            if (RunsOnPointers)
            {
                Forward((float*)xp, n, h, w, first, output);
                return;
            }
            // The shortcut runs on libtorch.
            var libtorchShortcut = ChannelsLast.Convert(_shortcut!.call(input)).permute(0, 2, 3, 1).contiguous();
            if (libtorchShortcut.numel() != length)
            {
                throw new InvalidOperationException($"The shortcut gives {libtorchShortcut.numel()} values for a block output of {length}.");
            }
            Convolve((float*)xp, n, h, w, Pointer(libtorchShortcut), first, output, length);
            GC.KeepAlive(libtorchShortcut);
        }
    }

    /// <summary>The first value of a contiguous CPU float32 tensor, whose native memory does not move.</summary>
    private static unsafe float* Pointer(Tensor contiguous)
    {
        fixed (byte* p = contiguous.bytes)
        {
            return (float*)p;
        }
    }

    /// <summary>Whether <see cref="Forward(float*, int, int, int, float*, float*)"/> can run this block: its
    /// shortcut is the identity or runs on the C# kernels.</summary>
    public bool RunsOnPointers => _shortcut is null || _cpuShortcut is not null;

    /// <summary>
    /// The block's output for NHWC float32 input <paramref name="x"/> [N, H, W, C], written NHWC to
    /// <paramref name="output"/>, with <paramref name="first"/> holding the first convolution's output (each
    /// N·Ho·Wo·O floats): the tensor overload's arithmetic without a libtorch call (<see cref="RunsOnPointers"/>).
    /// </summary>
    public unsafe void Forward(float* x, int n, int h, int w, float* first, float* output)
    {
        if (!RunsOnPointers)
        {
            throw new InvalidOperationException("This block's shortcut runs on libtorch and needs the tensor overload.");
        }
        int ho = OutputSize(h), wo = OutputSize(w);
        long length = (long)n * ho * wo * OutChannels;
        if (_cpuShortcut is { } cpu)
        {
            var (conv, norm) = cpu;
            if (conv.OutputSize(h) != ho || conv.OutputSize(w) != wo || conv.OutChannels != OutChannels)
            {
                throw new InvalidOperationException($"The shortcut's output does not match the block's [{n}, {OutChannels}, {ho}, {wo}].");
            }
            using var shortcut = new PooledActivation(n, ho, wo, OutChannels);
            conv.Forward(x, n, h, w, shortcut.Pointer);
            norm.ApplyInPlace(shortcut.Pointer, n, (long)ho * wo);
            Convolve(x, n, h, w, shortcut.Pointer, first, output, length);
        }
        else
        {
            if ((long)n * h * w * InChannels != length)
            {
                throw new InvalidOperationException($"The identity shortcut gives {(long)n * h * w * InChannels} values for a block output of {length}.");
            }
            Convolve(x, n, h, w, x, first, output, length);
        }
    }

    /// <summary>The two fused convolutions, with <paramref name="shortcut"/> (NHWC, the output's shape) added as the
    /// block defines.</summary>
    private unsafe void Convolve(float* x, int n, int h, int w, float* shortcut, float* first, float* output, long length)
    {
        int ho = OutputSize(h), wo = OutputSize(w);
        _conv1.ForwardFused(x, n, h, w, _map1, first, length, _nonlin1, _doubleShortcut ? shortcut : null);
        _conv2.ForwardFused(first, n, ho, wo, _map2, output, length, _nonlin2, _doubleShortcut ? first : shortcut);
    }

    private Tensor CheckInput(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != InChannels || x.dtype != ScalarType.Float32 || x.device_type != TorchSharp.DeviceType.CPU)
        {
            throw new ArgumentException(
                $"The block expects float32 CPU input [N, {InChannels}, H, W] but got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device_type}.", nameof(x));
        }
        return ChannelsLast.Convert(x);
    }

    /// <summary>The batch norm <paramref name="norm"/> followed by a clamp to [<paramref name="lower"/>, <paramref name="upper"/>].</summary>
    public static ChannelAffine Map(BatchNorm2d norm, double lower, double upper)
    {
        static float[] Values(Tensor? t, long channels, float fill) =>
            t is null ? System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Repeat(fill, (int)channels))
                : TensorCopy.ToFloatArray(t);
        long c = norm.num_features;
        return ChannelAffine.FromBatchNorm(Values(norm.running_mean, c, 0), Values(norm.running_var, c, 1), Values(norm.weight, c, 1),
            Values(norm.bias, c, 0), norm.eps, lower, upper);
    }

    private static ConvEpilogue? Epilogue(nn.Module<Tensor, Tensor> nonlinearity, int channels)
    {
        switch (nonlinearity)
        {
            case ReLU:
                return new ConvEpilogue(EpilogueNonlinearity.ReLU, null);
            case Identity:
                return ConvEpilogue.None;
            case PReLU prelu when prelu.num_parameters == 1 || prelu.num_parameters == channels:
            {
                // A single shared slope is broadcast over the channels, as libtorch does.
                using var slopes = prelu.weight!.expand(channels);
                return new ConvEpilogue(EpilogueNonlinearity.PReLU, TensorCopy.ToFloatArray(slopes));
            }
            default:
                return null;
        }
    }
}
