using System;
using ML.LeastSquaresQuant.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// Quantizes a weight tensor [out, …] with per-output-channel scalars. In training the scalars are computed from
/// the current weights on every forward pass and cached in the buffer <c>scalars</c>; in evaluation the cache is
/// used, so it is what a saved model carries.
/// </summary>
public sealed class WeightQuantizer : nn.Module<Tensor, Tensor>
{
    private const string ScalarsBuffer = "scalars";

    /// <summary>Creates a weight quantizer.</summary>
    /// <param name="scheme">The scheme; <c>fp</c> makes the quantizer an identity with no state.</param>
    /// <param name="outChannels">The number of output channels (rows) of the weights it will see.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="outChannels"/> is not positive.</exception>
    public WeightQuantizer(QuantScheme scheme, long outChannels) : base(nameof(WeightQuantizer))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        Scheme = scheme;
        OutChannels = outChannels;
        if (scheme.IsQuantized)
        {
            register_buffer(ScalarsBuffer, torch.zeros(outChannels, scheme.ScalarCount), persistent: true);
        }
    }

    /// <summary>The quantization scheme.</summary>
    public QuantScheme Scheme { get; }

    /// <summary>The number of output channels.</summary>
    public long OutChannels { get; }

    /// <summary>The cached per-channel scalars [out, k], or <see langword="null"/> for <c>fp</c>.</summary>
    public Tensor? CachedScalars => Scheme.IsQuantized ? get_buffer(ScalarsBuffer) : null;

    /// <summary>Recomputes the cached scalars from <paramref name="weight"/> (done automatically in training).</summary>
    /// <param name="weight">The weights [out, …].</param>
    public void Refresh(Tensor weight)
    {
        CheckWeight(weight);
        if (!Scheme.IsQuantized)
        {
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var rows = weight.detach().reshape(OutChannels, -1);
        var scalars = LeastSquaresQuantizer.ComputeScalarsCore(rows, Scheme, validateFinite: false);
        get_buffer(ScalarsBuffer)!.copy_(scalars);
    }

    /// <summary>Quantizes the weights (straight-through gradient).</summary>
    /// <param name="weight">The weights [out, …].</param>
    /// <returns>The quantized weights, shaped like <paramref name="weight"/>.</returns>
    public override Tensor forward(Tensor weight)
    {
        CheckWeight(weight);
        if (!Scheme.IsQuantized)
        {
            return weight.alias();
        }
        if (training)
        {
            Unfreeze();
        }
        else if (_frozen is not null)
        {
            return _frozen.alias();
        }
        using var scope = NewDisposeScope();
        if (training)
        {
            Refresh(weight);
        }
        var rows = weight.reshape(OutChannels, -1);
        return StraightThroughEstimator.ApplyIfNeeded(rows, Reconstructed(rows)).reshape(weight.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The quantized rows from the cached scalars (no autograd history).</summary>
    private Tensor Reconstructed(Tensor rows)
    {
        using var noGrad = torch.no_grad();
        return LeastSquaresQuantizer.Reconstruct(rows.detach(), get_buffer(ScalarsBuffer)!, Scheme);
    }

    /// <summary>
    /// Reconstructs the quantized weights once from the cached scalars and serves them to every evaluation-mode
    /// forward pass until the next training-mode pass (or <see cref="Unfreeze"/>): for a model that only scores,
    /// such as the ML.NET transformer's, the weights never change, so reconstructing them for every image is wasted
    /// work.
    /// </summary>
    internal void Freeze(Tensor weight)
    {
        CheckWeight(weight);
        Unfreeze();
        if (!Scheme.IsQuantized)
        {
            return;
        }
        using var scope = NewDisposeScope();
        // Detached from every dispose scope, not moved to the caller's: the frozen weights live as long as this
        // module (a model loaded inside a caller's scope keeps them after that scope ends); Dispose frees them.
        _frozen = Reconstructed(weight.reshape(OutChannels, -1)).reshape(weight.shape).DetachFromDisposeScope();
    }

    /// <summary>Serves <paramref name="quantized"/> (already quantized weights, copied) like <see cref="Freeze"/> does.</summary>
    internal void FreezeTo(Tensor quantized)
    {
        CheckWeight(quantized);
        Unfreeze();
        using var scope = NewDisposeScope();
        _frozen = quantized.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>Drops the weights kept by <see cref="Freeze"/>.</summary>
    internal void Unfreeze()
    {
        _frozen?.Dispose();
        _frozen = null;
    }

    /// <summary>The weights kept by <see cref="Freeze"/>, or <see langword="null"/> when none are (for tests).</summary>
    internal Tensor? Frozen => _frozen;

    private Tensor? _frozen;

    /// <summary>Frees the frozen weights, which belong to no dispose scope, along with the module.</summary>
    /// <param name="disposing">True when called from <see cref="IDisposable.Dispose"/> rather than a finalizer.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Unfreeze();
        }
        base.Dispose(disposing);
    }

    private void CheckWeight(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() < 1 || weight.shape[0] != OutChannels)
        {
            throw new ArgumentException(
                $"WeightQuantizer for {OutChannels} output channels got weights of shape {TensorGuard.Shape(weight)}.",
                nameof(weight));
        }
    }
}
