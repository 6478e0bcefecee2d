using System;
using System.Runtime.InteropServices;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Quantization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// Scores a <see cref="QuantConv2d"/> with the binary engine (XOR + popcount over bit-planes, see
/// <see cref="BinaryConv2d"/>) instead of a float convolution of reconstructed tensors. The activation scalars are the
/// ones the float path uses (computed per sample by the exact kernels, or the moving averages), the sign planes
/// follow the same float32 decisions, and the integer correlations are exact, so the result equals the float path
/// up to float32 rounding of the final sums (docs/inference.md).
/// </summary>
internal sealed class BinaryConvolution
{
    // One packing buffer per thread, reused by every layer: it is consumed before Forward returns, and allocating the
    // planes anew per layer and call (a megabyte at batch 64) only fed the garbage collector.
    [ThreadStatic]
    private static PackedActivations? t_packed;

    private readonly BinaryConv2d _layer;
    private readonly ActivationQuantizer _quantizer;
    private readonly ActivationClamp _clamp;
    private readonly int _planes;
    private readonly bool _ternary;

    private BinaryConvolution(BinaryConv2d layer, ActivationQuantizer quantizer, ActivationClamp clamp)
    {
        _layer = layer;
        _quantizer = quantizer;
        _clamp = clamp;
        _ternary = quantizer.Scheme.Kind == QuantSchemeKind.LeastSquaresTernary;
        _planes = StepCount(quantizer.Scheme);
    }

    /// <summary>
    /// The fewest input channels for which a layer runs on the engine. Channels are packed 64 to a word (a narrow
    /// layer folds the taps of each kernel row into fewer words, <see cref="FoldedConvWeights"/>); from 16 channels on
    /// a layer beats libtorch's float convolution inside a network scored in one pass (the sample's width-16 network
    /// was faster at batch 1 and 64 with every layer on the engine than with its 16- and 32-channel stages on
    /// libtorch; docs/benchmarks.md). Narrower layers were not measured and stay on libtorch. Tests change it.
    /// </summary>
    internal static int MinInputChannels { get; set; } = 16;

    /// <summary>Whether <paramref name="conv"/> runs on the engine: both schemes quantized, no groups or dilation, and
    /// at least <see cref="MinInputChannels"/> input channels.</summary>
    public static bool Supports(QuantConv2d conv) =>
        conv.Quantization.ActivationScheme.IsQuantized && conv.Quantization.WeightScheme.IsQuantized && conv.Groups == 1
        && conv.Dilation == 1 && conv.InChannels >= MinInputChannels;

    /// <summary>Sign planes of a scheme's foldable form: its scalar count, two for <c>ls-T</c> (both steps v).</summary>
    public static int StepCount(QuantScheme scheme) =>
        scheme.Kind == QuantSchemeKind.LeastSquaresTernary ? 2 : scheme.ScalarCount;

    /// <summary>Builds the engine for <paramref name="conv"/> from <paramref name="weights"/>.</summary>
    public static BinaryConvolution Create(QuantConv2d conv, PackedConvWeights weights)
    {
        float[]? bias = conv.Bias is null ? null : TensorCopy.ToFloatArray(conv.Bias);
        var layer = new BinaryConv2d(weights.ToKernelLayout(), bias, checked((int)conv.Stride), checked((int)conv.Padding));
        return new BinaryConvolution(layer, conv.ActivationQuantizer, conv.Quantization.EffectiveClamp);
    }

    /// <summary>
    /// The packed form of <paramref name="conv"/>'s quantized weights, from its float weights and cached scalars by the
    /// foldable rule (the float path's own decisions).
    /// </summary>
    public static PackedConvWeights Pack(QuantConv2d conv)
    {
        var scheme = conv.Quantization.WeightScheme;
        using var scope = NewDisposeScope();
        var weight = conv.Weight.detach().cpu().to_type(ScalarType.Float32).contiguous();
        var scalars = conv.WeightQuantizer.CachedScalars!.detach().cpu().to_type(ScalarType.Float32);
        if (scheme.Kind == QuantSchemeKind.LeastSquaresTernary)
        {
            scalars = cat([scalars, scalars], 1);
        }
        scalars = scalars.contiguous();
        return PackedConvWeights.FromLatent(weight.data<float>().ToArray(), scalars.data<float>().ToArray(),
            checked((int)conv.OutChannels), checked((int)conv.InChannels), checked((int)conv.KernelSize), StepCount(scheme));
    }

    /// <summary>The layer the engine runs.</summary>
    public BinaryConv2d Layer => _layer;

    /// <summary>
    /// The fused form inside a block: maps NHWC float32 input <paramref name="x"/> [N, H, W, C] by
    /// <paramref name="map"/> (the batch norm before this convolution and this layer's clamp), quantizes and packs it,
    /// convolves, and applies <paramref name="epilogue"/> with <paramref name="residual"/> into
    /// <paramref name="output"/> [N, Ho, Wo, O]. Same values as the modules run one after another.
    /// </summary>
    public unsafe void ForwardFused(float* x, int batch, int height, int width, ChannelAffine map, float* output,
        long outputLength, ConvEpilogue epilogue, float* residual)
    {
        var packed = t_packed ??= new PackedActivations();
        packed.PackFused(x, batch, height, width, map, _planes, SampleScalarsFunction(),
            _layer.Folded is null ? 0 : _layer.Weights.KernelSize, _layer.Padding);
        _layer.Forward(packed, output, outputLength, epilogue, residual);
    }

    /// <summary>The clamp bound of this layer's activations (+∞ for none).</summary>
    public double ClampBound => _clamp.Alpha;

    /// <summary>
    /// The per-sample scalars of the fused path, as <see cref="ActivationQuantizer.EvaluationScalars"/> gives them:
    /// the moving averages, or the exact per-sample solution rounded to float32; ls-T repeats v for its two steps.
    /// </summary>
    private SampleScalars SampleScalarsFunction()
    {
        var running = _quantizer.RunningScalars;
        if (running is not null)
        {
            float[] averages = TensorCopy.ToFloatArray(running);
            return (_, _, v) =>
            {
                for (int i = 0; i < v.Length; i++)
                {
                    v[i] = averages[_ternary ? 0 : i];
                }
            };
        }
        var scheme = _quantizer.Scheme;
        return (values, scratch, v) =>
        {
            Span<double> solved = stackalloc double[scheme.ScalarCount];
            RowScalars.Solve(values, scheme, scratch, solved);
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = (float)solved[_ternary ? 0 : i];
            }
        };
    }

    /// <summary>
    /// The step scalars [N, kA] in float32 of clamped rows [N, n] (channels-last order), as both CPU scoring paths use
    /// them: <see cref="ActivationQuantizer.EvaluationScalars"/> rounded to float32, ls-T's v repeated for its two steps.
    /// </summary>
    internal static Tensor StepScalars(ActivationQuantizer quantizer, Tensor clampedRows)
    {
        var scalars = quantizer.EvaluationScalars(clampedRows).to_type(ScalarType.Float32);
        if (quantizer.Scheme.Kind == QuantSchemeKind.LeastSquaresTernary)
        {
            scalars = cat([scalars, scalars], 1);
        }
        return scalars.expand(clampedRows.shape[0], StepCount(quantizer.Scheme));
    }

    /// <summary>The convolution of <paramref name="x"/> [N, C, H, W] (float32, CPU), channels-last out.</summary>
    public unsafe Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        int n = checked((int)x.shape[0]), c = checked((int)x.shape[1]), h = checked((int)x.shape[2]), w = checked((int)x.shape[3]);
        var rows = ChannelsLast.SampleRows(ChannelsLast.Convert(x.to_type(ScalarType.Float32)), out _);
        var clamped = _clamp.Apply(rows).contiguous();
        var scalars = StepScalars(_quantizer, clamped).contiguous();
        var packed = t_packed ??= new PackedActivations();
        packed.Pack(MemoryMarshal.Cast<byte, float>(clamped.bytes), MemoryMarshal.Cast<byte, float>(scalars.bytes), n, h, w, c, _planes);
        int outH = _layer.OutputSize(h), outW = _layer.OutputSize(w), outC = _layer.Weights.OutChannels;
        var output = empty(n, outH, outW, outC);
        _layer.Forward(packed, MemoryMarshal.Cast<byte, float>(output.bytes));
        GC.KeepAlive(clamped);
        GC.KeepAlive(scalars);
        return output.permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }
}
