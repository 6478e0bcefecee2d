using System;
using System.Collections.Generic;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// A <see cref="QResNet"/> whose every block runs fused on the binary engine (<see cref="XnorBlockEngine"/>), scored
/// with the block activations in pooled arrays (<see cref="PooledActivation"/>) rather than fresh libtorch tensors;
/// the full-precision stem and head stay on libtorch.
/// </summary>
internal sealed class QResNetEngine
{
    private readonly IReadOnlyList<object> _stem;
    private readonly nn.Module<Tensor, Tensor> _head;
    private readonly IReadOnlyList<XnorBlockEngine> _blocks;

    /// <summary>Creates the engine.</summary>
    /// <param name="stem">The stem's layers in order; a batch norm (and a ReLU after it) runs in place on the
    /// convolution's output (<see cref="ChannelAffine"/>), which saves libtorch two fresh activation tensors.</param>
    /// <param name="blocks">The fused blocks, in order.</param>
    /// <param name="head">Pooling and classifier.</param>
    public QResNetEngine(IReadOnlyList<nn.Module<Tensor, Tensor>> stem, IReadOnlyList<XnorBlockEngine> blocks, nn.Module<Tensor, Tensor> head)
    {
        if (blocks.Count == 0)
        {
            throw new ArgumentException("A network engine needs at least one block.", nameof(blocks));
        }
        var steps = new List<object>();
        for (int i = 0; i < stem.Count; i++)
        {
            if (stem[i] is TorchSharp.Modules.BatchNorm2d norm)
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
        var features = ChannelsLast.Convert(x);
        foreach (var step in _stem)
        {
            features = step is ChannelAffine map ? InPlace(map, features) : ChannelsLast.Convert(((nn.Module<Tensor, Tensor>)step).call(features));
        }
        PooledActivation? previous = null;
        try
        {
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
            }
            return _head.call(features).MoveToOuterDisposeScope();
        }
        finally
        {
            previous?.Dispose();
        }
    }

    /// <summary>Applies <paramref name="map"/> to channels-last <paramref name="x"/> in place (x is a fresh tensor of
    /// this pass), samples in parallel.</summary>
    private static unsafe Tensor InPlace(ChannelAffine map, Tensor x)
    {
        var memory = x.permute(0, 2, 3, 1);
        if (!memory.is_contiguous() || x.shape[1] != map.Channels || x.dtype != ScalarType.Float32)
        {
            throw new InvalidOperationException($"The stem's batch norm expects float32 channels-last [N, {map.Channels}, H, W] input.");
        }
        int n = checked((int)x.shape[0]);
        long pixels = x.shape[2] * x.shape[3];
        fixed (byte* p = memory.bytes)
        {
            nint start = (nint)p;
            System.Threading.Tasks.Parallel.For(0, n, i =>
            {
                float* sample = (float*)start + i * pixels * map.Channels;
                map.Apply(sample, sample, pixels);
            });
        }
        return x;
    }
}
