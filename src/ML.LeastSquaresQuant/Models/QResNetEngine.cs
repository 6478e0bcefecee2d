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

    /// <summary>Slices of a batch per core: measured fastest on 2 cores for both the width-16 and the width-64 network
    /// at batches of 8 to 64 (against 1, 2 and 8 per core and one unsliced pass): small slices keep a slice's
    /// activations in the core's cache and even out cores that run at different speeds; smaller ones repeat the
    /// per-pass set-up more often.</summary>
    private const int SlicesPerCore = 4;

    /// <summary>Class logits for images <paramref name="x"/> [N, C, H, W] (CPU float32, checked by the caller).</summary>
    /// <remarks>A batch of at least two images per core is split into slices of whole images, one per task, each
    /// scored through the whole network on one thread (<see cref="EngineParallel.RunSerial"/>): samples never
    /// interact, so the logits are the same bits as one pass, and the threads meet once per call instead of
    /// several times per layer. Smaller batches run one pass whose layers spread their rows over the threads.</remarks>
    public unsafe Tensor Forward(Tensor x)
    {
        int n = checked((int)x.shape[0]);
        var logits = empty(n, _head.Classes);
        fixed (byte* y = logits.bytes)
        {
            int slices = EngineParallel.Enabled && n >= 2 * Environment.ProcessorCount ? Math.Min(n, SlicesPerCore * Environment.ProcessorCount) : 1;
            if (slices == 1)
            {
                Score(x, (float*)y);
            }
            else
            {
                nint output = (nint)y;
                var options = new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
                System.Threading.Tasks.Parallel.For(0, slices, options, slice =>
                {
                    int first = (int)((long)n * slice / slices), end = (int)((long)n * (slice + 1) / slices);
                    using var scope = NewDisposeScope();
                    var part = x.narrow(0, first, end - first);
                    EngineParallel.RunSerial(() => Score(part, (float*)output + (long)first * _head.Classes));
                });
            }
        }
        return logits;
    }

    /// <summary>Scores images <paramref name="x"/> [N, C, H, W] into <paramref name="logits"/> [N, classes].</summary>
    private unsafe void Score(Tensor x, float* logits)
    {
        using var scope = NewDisposeScope();
        // The stem's buffers, released once the first block has read its output.
        var stemBuffers = new List<PooledActivation>();
        PooledActivation? previous = null;
        try
        {
            Tensor? features = ChannelsLastInput(x, stemBuffers);
            // The pooled buffer whose view `features` is, if any: blocks then pass pointers and make no tensors.
            PooledActivation? pooled = stemBuffers.Count > 0 ? stemBuffers[^1] : null;
            foreach (var step in _stem)
            {
                (features, pooled) = step switch
                {
                    FloatConv2d conv => (Convolve(conv, features, stemBuffers), stemBuffers[^1]),
                    ChannelAffine map => (InPlace(map, features), pooled),
                    _ => (ChannelsLast.Convert(((nn.Module<Tensor, Tensor>)step).call(features)), (PooledActivation?)null),
                };
            }
            foreach (var block in _blocks)
            {
                var input = pooled;
                int n = input?.Batch ?? checked((int)features!.shape[0]);
                int h = input?.Height ?? checked((int)features!.shape[2]), w = input?.Width ?? checked((int)features!.shape[3]);
                using var first = new PooledActivation(n, block.OutputSize(h), block.OutputSize(w), block.OutChannels);
                var output = new PooledActivation(n, block.OutputSize(h), block.OutputSize(w), block.OutChannels);
                try
                {
                    if (input is not null && block.RunsOnPointers && input.Channels == block.InChannels)
                    {
                        block.Forward(input.Pointer, n, h, w, first.Pointer, output.Pointer);
                    }
                    else
                    {
                        block.Forward(features ?? input!.Nchw, first.Pointer, output.Pointer);
                    }
                }
                catch
                {
                    output.Dispose();
                    throw;
                }
                previous?.Dispose();
                previous = output;
                (features, pooled) = (null, output);
                Release(stemBuffers);
            }
            if (pooled is not null && pooled.Channels == _head.Channels)
            {
                _head.Forward(pooled.Pointer, pooled.Batch, (long)pooled.Height * pooled.Width, logits);
            }
            else
            {
                Classify(_head, features ?? pooled!.Nchw, logits);
            }
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
            EngineParallel.For(n, true, i =>
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
        var logits = empty(features.shape[0], head.Classes);
        fixed (byte* y = logits.bytes)
        {
            Classify(head, features, (float*)y);
        }
        return logits;
    }

    /// <summary>Writes the logits [N, classes] of <paramref name="head"/> for features [N, C, H, W] (CPU float32, any
    /// layout) to <paramref name="logits"/>.</summary>
    private static unsafe void Classify(GlobalPoolLinear head, Tensor features, float* logits)
    {
        if (features.dim() != 4 || features.shape[1] != head.Channels || features.dtype != ScalarType.Float32)
        {
            throw new InvalidOperationException($"The classifier expects float32 [N, {head.Channels}, H, W] features but got {features.dtype} [{string.Join(", ", features.shape)}].");
        }
        using var memory = features.permute(0, 2, 3, 1).contiguous();
        fixed (byte* x = memory.bytes)
        {
            head.Forward((float*)x, checked((int)features.shape[0]), features.shape[2] * features.shape[3], logits);
        }
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
