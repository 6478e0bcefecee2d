using System;
using ML.LeastSquaresQuant.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// conv2d(xq(clamp(x)), wq(W)) with the layer's stride, padding, dilation, groups and optional bias, where xq is an
/// <see cref="ActivationQuantizer"/> and wq a <see cref="WeightQuantizer"/>. With <c>fp</c>/<c>fp</c> and no clamp it
/// is exactly a convolution.
/// </summary>
public sealed class QuantConv2d : nn.Module<Tensor, Tensor>
{
    private readonly long[] _stride;
    private readonly long[] _padding;
    private readonly long[] _dilation;
    private readonly ActivationQuantizer _activationQuantizer;
    private readonly WeightQuantizer _weightQuantizer;

    /// <summary>Creates a quantized convolution with PyTorch's default initialization.</summary>
    /// <param name="inChannels">Input channels (divisible by <paramref name="groups"/>).</param>
    /// <param name="outChannels">Output channels (divisible by <paramref name="groups"/>).</param>
    /// <param name="kernelSize">Height and width of the (square) kernel, in pixels.</param>
    /// <param name="quantization">Schemes, clamp and moving-average mode; <see cref="LayerQuantization.FullPrecision"/> when null.</param>
    /// <param name="stride">Pixels the kernel moves between outputs (2 halves the resolution).</param>
    /// <param name="padding">Zero padding on each side.</param>
    /// <param name="dilation">Spacing between kernel taps (1: adjacent pixels).</param>
    /// <param name="groups">Independent channel groups: each output channel sees only in/groups input channels (1: all).</param>
    /// <param name="bias">Whether the layer has a bias.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive or channels are not divisible by groups.</exception>
    public QuantConv2d(long inChannels, long outChannels, long kernelSize, LayerQuantization? quantization = null,
        long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool bias = true)
        : base(nameof(QuantConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dilation);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (inChannels % groups != 0 || outChannels % groups != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups,
                $"Channels ({inChannels} in, {outChannels} out) must be divisible by groups.");
        }

        Quantization = quantization ?? LayerQuantization.FullPrecision;
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Groups = groups;
        _stride = [stride, stride];
        _padding = [padding, padding];
        _dilation = [dilation, dilation];

        var w = torch.empty(outChannels, inChannels / groups, kernelSize, kernelSize);
        nn.init.kaiming_uniform_(w, Math.Sqrt(5));
        register_parameter("weight", new Parameter(w));
        if (bias)
        {
            double bound = 1.0 / Math.Sqrt(inChannels / groups * kernelSize * kernelSize);
            register_parameter("bias", new Parameter(torch.empty(outChannels).uniform_(-bound, bound)));
        }
        _activationQuantizer = new ActivationQuantizer(Quantization.ActivationScheme, Quantization.MovingAverage, Quantization.Momentum);
        _weightQuantizer = new WeightQuantizer(Quantization.WeightScheme, outChannels);
        register_module("x_quant", _activationQuantizer);
        register_module("w_quant", _weightQuantizer);
        // The cache must be valid before the first training step so that evaluating a fresh layer is sane.
        _weightQuantizer.Refresh(Weight);
    }

    /// <summary>The layer's quantization.</summary>
    public LayerQuantization Quantization { get; }

    /// <summary>Channels of the images the layer accepts.</summary>
    public long InChannels { get; }

    /// <summary>Channels the layer produces (one filter and, when quantized, one set of weight scalars each).</summary>
    public long OutChannels { get; }

    /// <summary>Height and width of the square kernel, in pixels.</summary>
    public long KernelSize { get; }

    /// <summary>Independent channel groups; each output channel sees InChannels / Groups input channels.</summary>
    public long Groups { get; }

    /// <summary>Step between output positions, in input pixels.</summary>
    public long Stride => _stride[0];

    /// <summary>Zeros added on each side of the input.</summary>
    public long Padding => _padding[0];

    /// <summary>Spacing between kernel taps (1 for an ordinary convolution).</summary>
    public long Dilation => _dilation[0];

    /// <summary>
    /// The quantized weights as bit-planes when they were read from a packed model file: then they, not a
    /// re-quantization of <see cref="Weight"/>, are the layer's weights (re-quantizing reconstructed weights need not
    /// give the same planes back).
    /// </summary>
    /// <remarks>A layer whose float weights are released and whose engine is on keeps its planes once, in the engine's
    /// layout; this then rebuilds the storage form from them (for saving, or to restore the float weights).</remarks>
    internal Inference.PackedConvWeights? StoredPlanes
    {
        get => _storedPlanes ?? (FloatWeightsReleased ? _engine?.Layer.Weights.ToPacked() : null);
        set => _storedPlanes = value;
    }

    private Inference.PackedConvWeights? _storedPlanes;

    /// <summary>The binary engine that scores this layer, or <see langword="null"/> for the float path.</summary>
    private BinaryConvolution? _engine;

    /// <summary>The binary engine of this layer, when <see cref="UseBinaryEngine"/> turned it on.</summary>
    internal BinaryConvolution? Engine => _engine;

    /// <summary>The packed form of the quantized weights: the stored planes, or packed from the float weights.</summary>
    internal Inference.PackedConvWeights PackedWeights() => StoredPlanes ?? BinaryConvolution.Pack(this);

    /// <summary>The float path's plane-by-plane scoring in the engine's arithmetic, when the engine is off.</summary>
    private PlaneConvolution? _planes;

    /// <summary>
    /// Scores evaluation-mode, gradient-free CPU passes with the binary engine (<paramref name="on"/> true) or with
    /// the float path in the engine's arithmetic (<see cref="PlaneConvolution"/>, false); layers the engine does not
    /// support (<see cref="BinaryConvolution.Supports"/>) keep the float convolution of reconstructed tensors either
    /// way. Not thread-safe against concurrent scoring.
    /// </summary>
    internal void UseBinaryEngine(bool on)
    {
        // A released layer may hold its planes only in the engine, which goes now: keep them in storage form first.
        if (FloatWeightsReleased)
        {
            _storedPlanes = StoredPlanes;
        }
        var planes = BinaryConvolution.Supports(this) ? PackedWeights() : null;
        _planes?.Dispose();
        _planes = null;
        _engine = null;
        if (planes is null)
        {
            return;
        }
        if (on)
        {
            _engine = BinaryConvolution.Create(this, planes);
            if (FloatWeightsReleased)
            {
                _storedPlanes = null;
            }
        }
        else
        {
            _planes = new PlaneConvolution(this, planes);
        }
    }

    /// <summary>The arrays of packed weights this layer holds (stored planes, the engine's kernel layout).</summary>
    internal System.Collections.Generic.IEnumerable<Array> HeldWeightArrays()
    {
        if (_storedPlanes is not null)
        {
            yield return _storedPlanes.Signs;
            yield return _storedPlanes.Scalars;
        }
        if (_engine is not null)
        {
            yield return _engine.Layer.Weights.Bits;
            yield return _engine.Layer.Weights.Scalars;
        }
    }

    /// <summary>The tensors of the float path's planes, when it scores this layer.</summary>
    internal System.Collections.Generic.IEnumerable<Tensor> HeldWeightTensors() => _planes?.Tensors ?? [];

    /// <summary>Whether <see cref="ReleaseFloatWeights"/> dropped the float copies (until a pass needs them again).</summary>
    internal bool FloatWeightsReleased { get; private set; }

    /// <summary>
    /// Keeps only the packed planes of a layer the engine supports: <see cref="StoredPlanes"/> is set (packed from the
    /// float weights if they were not read from a file), the frozen quantized copy is dropped and <see cref="Weight"/>
    /// keeps its shape over a single zero (4 bytes instead of 4 per weight). The engine and the float path's
    /// plane-by-plane scoring read the planes only, and a model file stores the planes, so nothing they do changes.
    /// A pass that needs float weights (training, gradients, another device) first rebuilds them from the planes, the
    /// reconstructed weights a model loaded from a packed file has. Other layers are left as they are.
    /// </summary>
    internal void ReleaseFloatWeights()
    {
        if (FloatWeightsReleased || !BinaryConvolution.Supports(this))
        {
            return;
        }
        _storedPlanes ??= BinaryConvolution.Pack(this);
        _weightQuantizer.Unfreeze();
        using (torch.no_grad())
        {
            using var zero = torch.zeros(1, dtype: Weight.dtype);
            using var placeholder = zero.expand(Weight.shape);
            Weight.set_(placeholder);
        }
        FloatWeightsReleased = true;
    }

    /// <summary>Rebuilds the float weights released by <see cref="ReleaseFloatWeights"/> from the planes, frozen for
    /// evaluation-mode passes as a loaded packed model's are.</summary>
    private void RestoreFloatWeights()
    {
        // The planes stay the layer's weights (re-packing their reconstruction need not give them back).
        _storedPlanes = StoredPlanes!;
        using (torch.no_grad())
        {
            using var weights = torch.tensor(_storedPlanes.Reconstruct(), Weight.shape);
            Weight.set_(weights);
        }
        FloatWeightsReleased = false;
        FreezeWeights();
    }

    /// <summary>The full-precision weights [out, in/groups, k, k].</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>The bias [out], or <see langword="null"/>.</summary>
    public Parameter? Bias => get_parameter("bias");

    /// <summary>The activation quantizer.</summary>
    public ActivationQuantizer ActivationQuantizer => _activationQuantizer;

    /// <summary>The weight quantizer.</summary>
    public WeightQuantizer WeightQuantizer => _weightQuantizer;

    /// <summary>Keeps the quantized weights for evaluation-mode passes (see <see cref="WeightQuantizer"/>).</summary>
    internal void FreezeWeights()
    {
        if (StoredPlanes is null)
        {
            _weightQuantizer.Freeze(Weight);
            return;
        }
        using var scope = NewDisposeScope();
        _weightQuantizer.FreezeTo(torch.tensor(StoredPlanes.Reconstruct(), Weight.shape));
    }

    /// <summary>Frees the float path's weight planes with the module.</summary>
    /// <param name="disposing">True when called from <see cref="IDisposable.Dispose"/>.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _planes?.Dispose();
            _planes = null;
        }
        base.Dispose(disposing);
    }

    /// <summary>Applies the quantized convolution.</summary>
    /// <param name="x">Input [N, InChannels, H, W].</param>
    /// <returns>The output [N, OutChannels, H', W'].</returns>
    /// <exception cref="ArgumentException">The input is not 4-D with <see cref="InChannels"/> channels, or too small for the kernel.</exception>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4 || x.shape[1] != InChannels)
        {
            throw new ArgumentException(
                $"QuantConv2d expects input [N, {InChannels}, H, W] but got {TensorGuard.Shape(x)}.", nameof(x));
        }
        long span = _dilation[0] * (KernelSize - 1) + 1;
        if (x.shape[2] + 2 * _padding[0] < span || x.shape[3] + 2 * _padding[1] < span)
        {
            throw new ArgumentException(
                $"Input {TensorGuard.Shape(x)} is smaller than the {KernelSize}x{KernelSize} kernel (dilation {_dilation[0]}, padding {_padding[0]}).",
                nameof(x));
        }
        if (!training && x.device_type == DeviceType.CPU && !torch.is_grad_enabled())
        {
            if (_engine is not null)
            {
                return _engine.Forward(x);
            }
            if (_planes is not null)
            {
                return _planes.Forward(x);
            }
        }
        if (FloatWeightsReleased)
        {
            RestoreFloatWeights();
        }
        using var scope = NewDisposeScope();
        var xq = ActivationQuantizer.Quantize(x, Quantization.EffectiveClamp);
        var wq = WeightQuantizer.call(Weight);
        return Convolution.Conv2d(xq, wq, Bias, _stride[0], _padding[0], _dilation[0], Groups).MoveToOuterDisposeScope();
    }
}
