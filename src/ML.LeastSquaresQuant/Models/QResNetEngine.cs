using System;
using System.Collections.Generic;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// A <see cref="QResNet"/> whose every block runs fused on the binary engine (<see cref="XnorBlockEngine"/>), scored
/// with the block activations in pooled arrays (<see cref="PooledActivation"/>) rather than fresh libtorch tensors;
/// the full-precision stem and head run on C# kernels (<see cref="FloatConv2d"/>, <see cref="GlobalPoolLinear"/>),
/// so a pass wakes no libtorch threads (only an ImageNet stem's max pool stays on libtorch).
/// </summary>
internal sealed class QResNetEngine
{
    private readonly IReadOnlyList<object> _stem;
    private readonly GlobalPoolLinear _head;
    private readonly IReadOnlyList<XnorBlockEngine> _blocks;

    /// <summary>Creates the engine.</summary>
    /// <param name="stem">The stem's layers in order; a batch norm (and a ReLU after it) runs in place on the
    /// convolution's output (<see cref="ChannelAffine"/>), which saves libtorch two fresh activation tensors.</param>
    /// <param name="blocks">The fused blocks, in order.</param>
    /// <param name="head">Pooling and classifier.</param>
    public QResNetEngine(IReadOnlyList<nn.Module<Tensor, Tensor>> stem, IReadOnlyList<XnorBlockEngine> blocks, GlobalPoolLinear head)
    {
        if (blocks.Count == 0)
        {
            throw new ArgumentException("A network engine needs at least one block.", nameof(blocks));
        }
        var steps = new List<object>();
        for (int i = 0; i < stem.Count; i++)
        {
            if (stem[i] is Conv2dLayer { CpuKernel: { } kernel })
            {
                steps.Add(kernel);
            }
            else if (stem[i] is TorchSharp.Modules.BatchNorm2d norm)
            {
                bool relu = i + 1 < stem.Count && stem[i + 1] is TorchSharp.Modules.ReLU;
                steps.Add(XnorBlockEngine.Map(norm, relu ? 0 : double.NegativeInfinity, double.PositiveInfinity));
                i += relu ? 1 : 0;
            }
            else
            {
                steps.Add(stem[i]);
            }
        }
        (_stem, _blocks, _head) = (steps, blocks, head);
    }

    /// <summary>Class logits for images <paramref name="x"/> [N, C, H, W] (CPU float32, checked by the caller).</summary>
    public unsafe Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // The stem's buffers, released once the first block has read its output.
        var stemBuffers = new List<PooledActivation>();
        PooledActivation? previous = null;
        try
        {
            var features = ChannelsLastInput(x, stemBuffers);
            foreach (var step in _stem)
            {
                features = step switch
                {
                    FloatConv2d conv => Convolve(conv, features, stemBuffers),
                    ChannelAffine map => InPlace(map, features),
                    _ => ChannelsLast.Convert(((nn.Module<Tensor, Tensor>)step).call(features)),
                };
            }
            foreach (var block in _blocks)
            {
                int n = checked((int)features.shape[0]);
                int ho = block.OutputSize(checked((int)features.shape[2])), wo = block.OutputSize(checked((int)features.shape[3]));
                using var first = new PooledActivation(n, ho, wo, block.OutChannels);
                var output = new PooledActivation(n, ho, wo, block.OutChannels);
                try
                {
                    block.Forward(features, first.Pointer, output.Pointer);
                }
                catch
                {
                    output.Dispose();
                    throw;
                }
                previous?.Dispose();
                previous = output;
                features = output.Nchw;
                Release(stemBuffers);
            }
            return Classify(_head, features).MoveToOuterDisposeScope();
        }
        finally
        {
            previous?.Dispose();
            Release(stemBuffers);
        }
    }

    private static void Release(List<PooledActivation> buffers)
    {
        foreach (var buffer in buffers)
        {
            buffer.Dispose();
        }
        buffers.Clear();
    }

    /// <summary><paramref name="x"/> in channels-last memory: itself when it is, else a copy made in C# (a libtorch copy
    /// would wake its OpenMP threads, which then spin while the engine runs).</summary>
    private static unsafe Tensor ChannelsLastInput(Tensor x, List<PooledActivation> buffers)
    {
        if (ChannelsLast.Is(x))
        {
            return x.alias();
        }
        if (!x.is_contiguous())
        {
            return ChannelsLast.Convert(x);
        }
        int n = checked((int)x.shape[0]), c = checked((int)x.shape[1]), h = checked((int)x.shape[2]), w = checked((int)x.shape[3]);
        var copy = new PooledActivation(n, h, w, c);
        buffers.Add(copy);
        fixed (byte* source = x.bytes)
        {
            nint from = (nint)source, to = (nint)copy.Pointer;
            long pixels = (long)h * w;
            System.Threading.Tasks.Parallel.For(0, n, i =>
            {
                float* src = (float*)from + i * pixels * c, dst = (float*)to + i * pixels * c;
                for (int channel = 0; channel < c; channel++)
                {
                    for (long p = 0; p < pixels; p++)
                    {
                        dst[p * c + channel] = src[channel * pixels + p];
                    }
                }
            });
        }
        return copy.Nchw;
    }

    /// <summary><paramref name="conv"/> applied to channels-last <paramref name="x"/>, into a new pooled buffer.</summary>
    private static unsafe Tensor Convolve(FloatConv2d conv, Tensor x, List<PooledActivation> buffers)
    {
        var memory = ChannelsLastMemory(x, conv.InChannels, "stem's convolution");
        int n = checked((int)x.shape[0]), h = checked((int)x.shape[2]), w = checked((int)x.shape[3]);
        var output = new PooledActivation(n, conv.OutputSize(h), conv.OutputSize(w), conv.OutChannels);
        buffers.Add(output);
        fixed (byte* p = memory.bytes)
        {
            conv.Forward((float*)p, n, h, w, output.Pointer);
        }
        return output.Nchw;
    }

    /// <summary>Applies <paramref name="map"/> to channels-last <paramref name="x"/> in place (x is a fresh tensor of
    /// this pass), samples in parallel.</summary>
    private static unsafe Tensor InPlace(ChannelAffine map, Tensor x)
    {
        var memory = ChannelsLastMemory(x, map.Channels, "stem's batch norm");
        fixed (byte* p = memory.bytes)
        {
            map.ApplyInPlace((float*)p, checked((int)x.shape[0]), x.shape[2] * x.shape[3]);
        }
        return x;
    }

    /// <summary>Logits [N, classes] of <paramref name="head"/> for features [N, C, H, W] (CPU float32, any layout).</summary>
    public static unsafe Tensor Classify(GlobalPoolLinear head, Tensor features)
    {
        if (features.dim() != 4 || features.shape[1] != head.Channels || features.dtype != ScalarType.Float32)
        {
            throw new InvalidOperationException($"The classifier expects float32 [N, {head.Channels}, H, W] features but got {features.dtype} [{string.Join(", ", features.shape)}].");
        }
        using var memory = features.permute(0, 2, 3, 1).contiguous();
        int n = checked((int)features.shape[0]);
        var logits = empty(n, head.Classes);
        fixed (byte* x = memory.bytes, y = logits.bytes)
        {
            head.Forward((float*)x, n, features.shape[2] * features.shape[3], (float*)y);
        }
        return logits;
    }

    /// <summary>The NHWC view of <paramref name="x"/>, which must be float32 channels-last [N, C, H, W].</summary>
    private static Tensor ChannelsLastMemory(Tensor x, int channels, string role)
    {
        var memory = x.permute(0, 2, 3, 1);
        if (!memory.is_contiguous() || x.shape[1] != channels || x.dtype != ScalarType.Float32)
        {
            throw new InvalidOperationException($"The {role} expects float32 channels-last [N, {channels}, H, W] input.");
        }
        return memory;
    }
}
