using System;
using ML.LeastSquaresQuant.Inference;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// The float path's scoring of a quantized convolution that the binary engine also supports, in the engine's own
/// arithmetic: out = bias + Σ_i Σ_j v_i·α_j·conv(s_i, w_j), where s_i are the activation sign planes (±1, the
/// foldable rule in float32), w_j the weight sign planes and conv is libtorch's unfold and float32 matrix product of
/// the ±1 tensors (no oneDNN convolution kernel: <see cref="Convolution.UnfoldMatmul"/>).
/// </summary>
/// <remarks>
/// Every conv(s_i, w_j) is an integer of magnitude at most C·K² &lt; 2^24, so float32 holds it exactly whatever order
/// libtorch adds in; the coefficients v_i·α_j are exact in double, and the sum is formed in double in the engine's
/// order (i outer, j inner, no fused multiply-add) and rounded once to float32. The float path and the engine
/// therefore give bit-identical outputs, while the integers still come from an independent implementation (a matrix
/// product rather than XOR and popcount). A float32 convolution of the reconstructed tensors, as training runs
/// it, rounds differently, and an activation whose next-layer residual sits within that rounding of zero then
/// changes sign: on the Fashion-MNIST sample this moved scores by up to 2.6e-3 (docs/inference.md).
/// </remarks>
internal sealed class PlaneConvolution : IDisposable
{
    private readonly Tensor[] _weightPlanes;
    private readonly Tensor _alpha;
    private readonly Tensor _bias;
    private readonly ActivationQuantizer _quantizer;
    private readonly ActivationClamp _clamp;
    private readonly int _planes;
    private readonly long _stride, _padding;

    /// <summary>Builds the planes of <paramref name="conv"/> from <paramref name="weights"/> (its packed weights).</summary>
    public PlaneConvolution(QuantConv2d conv, PackedConvWeights weights)
    {
        using var scope = NewDisposeScope();
        long[] shape = [weights.OutChannels, weights.InChannels, weights.KernelSize, weights.KernelSize];
        _weightPlanes = new Tensor[weights.PlaneCount];
        for (int j = 0; j < weights.PlaneCount; j++)
        {
            _weightPlanes[j] = tensor(weights.SignPlane(j), shape).DetachFromDisposeScope();
        }
        // α[o, j] → [kW, 1, O, 1, 1] in double, so plane j's coefficient broadcasts over [N, O, Ho, Wo].
        _alpha = tensor(weights.Scalars, [weights.OutChannels, weights.PlaneCount]).to_type(ScalarType.Float64).t()
            .reshape(weights.PlaneCount, 1, weights.OutChannels, 1, 1).contiguous().DetachFromDisposeScope();
        _bias = (conv.Bias is null ? zeros(weights.OutChannels, dtype: ScalarType.Float64)
            : conv.Bias.detach().cpu().to_type(ScalarType.Float64)).reshape(1, weights.OutChannels, 1, 1).DetachFromDisposeScope();
        _quantizer = conv.ActivationQuantizer;
        _clamp = conv.Quantization.EffectiveClamp;
        _planes = BinaryConvolution.StepCount(_quantizer.Scheme);
        _stride = conv.Stride;
        _padding = conv.Padding;
    }

    /// <summary>The tensors this holds (weight planes, scalars, bias).</summary>
    public System.Collections.Generic.IEnumerable<Tensor> Tensors => [.. _weightPlanes, _alpha, _bias];

    /// <summary>The convolution of <paramref name="x"/> [N, C, H, W] (float32, CPU), channels-last out.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var clamped = ChannelsLast.Convert(_clamp.Apply(ChannelsLast.Convert(x.to_type(ScalarType.Float32))));
        long n = clamped.shape[0];
        // The scalars of the rows in channels-last order, as the engine sums them.
        var scalars = BinaryConvolution.StepScalars(_quantizer, ChannelsLast.SampleRows(clamped, out _));
        var residual = clamped;
        Tensor? sum = null;
        for (int i = 0; i < _planes; i++)
        {
            var v = scalars[.., i].reshape(n, 1, 1, 1);
            var sign = where(residual.ge(0), 1f, -1f);
            if (i + 1 < _planes)
            {
                residual = residual - sign * v;
            }
            var coefficient = v.to_type(ScalarType.Float64);
            for (int j = 0; j < _weightPlanes.Length; j++)
            {
                var counts = Convolution.UnfoldMatmul(sign, _weightPlanes[j], _stride, _padding).to_type(ScalarType.Float64);
                var term = coefficient * _alpha[j] * counts;
                sum = (sum ?? _bias) + term;
            }
        }
        return ChannelsLast.Convert(sum!.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the planes.</summary>
    public void Dispose()
    {
        foreach (var plane in _weightPlanes)
        {
            plane.Dispose();
        }
        _alpha.Dispose();
        _bias.Dispose();
    }
}
