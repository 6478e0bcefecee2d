using System;
using ML.LeastSquaresQuant.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// Quantizes activations [N, …] with per-sample scalars, optionally tracking moving averages of the scalars
/// (buffers <c>running_scalars</c> and <c>initialized</c>) for use in evaluation and, in
/// <see cref="MovingAverageMode.TrainAndEval"/>, in training too.
/// </summary>
/// <remarks>
/// The first training batch initializes the averages; then avg ← m·avg + (1−m)·batch mean of each scalar. The
/// update is done with tensor operations only, so it costs no host synchronisation on a GPU. In a mode with
/// averages, evaluating before any training batch uses zero scalars (the averages' initial value).
/// </remarks>
public sealed class ActivationQuantizer : nn.Module<Tensor, Tensor>
{
    /// <summary>The default moving-average momentum.</summary>
    public const double DefaultMomentum = 0.99;

    private const string RunningBuffer = "running_scalars";
    private const string InitializedBuffer = "initialized";

    /// <summary>Creates an activation quantizer.</summary>
    /// <param name="scheme">The scheme; <c>fp</c> makes it an identity.</param>
    /// <param name="mode">The moving-average mode.</param>
    /// <param name="momentum">The momentum m, 0 ≤ m &lt; 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="momentum"/> is outside [0, 1).</exception>
    public ActivationQuantizer(QuantScheme scheme, MovingAverageMode mode = MovingAverageMode.Off, double momentum = DefaultMomentum)
        : base(nameof(ActivationQuantizer))
    {
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The moving-average momentum must be in [0, 1).");
        }
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown moving-average mode.");
        }
        Scheme = scheme;
        Mode = mode;
        Momentum = momentum;
        if (scheme.IsQuantized && mode != MovingAverageMode.Off)
        {
            register_buffer(RunningBuffer, torch.zeros(scheme.ScalarCount), persistent: true);
            register_buffer(InitializedBuffer, torch.zeros(1), persistent: true);
        }
    }

    /// <summary>The quantization scheme.</summary>
    public QuantScheme Scheme { get; }

    /// <summary>The moving-average mode.</summary>
    public MovingAverageMode Mode { get; }

    /// <summary>The moving-average momentum.</summary>
    public double Momentum { get; }

    /// <summary>The moving averages [k], or <see langword="null"/> when the mode is <see cref="MovingAverageMode.Off"/>.</summary>
    public Tensor? RunningScalars => UsesAverages ? get_buffer(RunningBuffer) : null;

    private bool UsesAverages => Scheme.IsQuantized && Mode != MovingAverageMode.Off;

    /// <summary>Quantizes a batch (straight-through gradient).</summary>
    /// <param name="x">Activations [N, …] with N ≥ 1.</param>
    /// <returns>The quantized activations, shaped like <paramref name="x"/>.</returns>
    public override Tensor forward(Tensor x) => Quantize(x, ActivationClamp.Identity);

    /// <summary>
    /// The scalars an evaluation-mode pass uses for clamped rows [N, n]: computed per sample ([N, k]) when the mode
    /// has no moving averages, otherwise the averages ([1, k]).
    /// </summary>
    internal Tensor EvaluationScalars(Tensor clampedRows) =>
        UsesAverages ? get_buffer(RunningBuffer)!.unsqueeze(0)
            : LeastSquaresQuantizer.ComputeScalarsCore(clampedRows, Scheme, validateFinite: false);

    /// <summary>
    /// Quantizes clamp(<paramref name="x"/>) with the gradient of clamp and straight-through estimator combined
    /// (1 where |x| ≤ min(1, alpha)), without materialising the clamp's autograd history.
    /// </summary>
    internal Tensor Quantize(Tensor x, ActivationClamp clamp)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() < 2)
        {
            throw new ArgumentException($"Activations must be [N, ...] with rank ≥ 2 but have shape {TensorGuard.Shape(x)}.", nameof(x));
        }
        if (!Scheme.IsQuantized)
        {
            return clamp.Apply(x);
        }
        using var scope = NewDisposeScope();
        var rows = ChannelsLast.SampleRows(x, out bool channelsLast);
        Tensor quantized;
        using (torch.no_grad())
        {
            var clamped = clamp.Apply(rows.detach());
            Tensor scalars;
            if (training || Mode == MovingAverageMode.Off)
            {
                scalars = LeastSquaresQuantizer.ComputeScalarsCore(clamped, Scheme, validateFinite: false);
            }
            else
            {
                scalars = get_buffer(RunningBuffer)!.unsqueeze(0);
            }
            if (training && UsesAverages)
            {
                var running = get_buffer(RunningBuffer)!;
                var initialized = get_buffer(InitializedBuffer)!;
                var batchMean = scalars.mean([0L]).to_type(running.dtype);
                var blended = running * Momentum + batchMean * (1 - Momentum);
                running.copy_(torch.where(initialized.gt(0), blended, batchMean));
                initialized.fill_(1);
                if (Mode == MovingAverageMode.TrainAndEval)
                {
                    scalars = running.unsqueeze(0);
                }
            }
            quantized = LeastSquaresQuantizer.Reconstruct(clamped, scalars, Scheme);
        }
        var bound = Math.Min(1.0, clamp.Alpha);
        return ChannelsLast.Restore(StraightThroughEstimator.ApplyIfNeeded(rows, quantized, bound), x, channelsLast).MoveToOuterDisposeScope();
    }
}
