using System;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>
/// How one quantized convolution (or one stage of them) quantizes: activation scheme, weight scheme,
/// the clamp before the activation quantizer, and the activation quantizer's moving-average mode.
/// </summary>
/// <param name="ActivationScheme">Scheme for the layer's input activations (per-sample scalars).</param>
/// <param name="WeightScheme">Scheme for the layer's weights (per-output-channel scalars).</param>
/// <param name="Clamp">Clamp applied before the activation quantizer; <see langword="null"/> means identity.</param>
/// <param name="MovingAverage">Moving-average mode of the activation quantizer.</param>
/// <param name="Momentum">Moving-average momentum m in avg ← m·avg + (1−m)·batch mean (0.99 by default).</param>
public sealed record LayerQuantization(
    QuantScheme ActivationScheme,
    QuantScheme WeightScheme,
    ActivationClamp? Clamp = null,
    MovingAverageMode MovingAverage = MovingAverageMode.Off,
    double Momentum = ActivationQuantizer.DefaultMomentum)
{
    /// <summary>Full precision activations and weights, no clamp.</summary>
    public static LayerQuantization FullPrecision { get; } = new(QuantScheme.FullPrecision, QuantScheme.FullPrecision);

    /// <summary>The clamp to apply (never null).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ActivationClamp EffectiveClamp => Clamp ?? ActivationClamp.Identity;

    /// <summary>Builds a configuration from scheme names such as <c>"ls-2"</c> and <c>"ls-1"</c>.</summary>
    /// <param name="activationScheme">Activation scheme name.</param>
    /// <param name="weightScheme">Weight scheme name.</param>
    /// <param name="clamp">Clamp, identity when null.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="ArgumentException">A name is not a valid scheme.</exception>
    public static LayerQuantization Parse(string activationScheme, string weightScheme, ActivationClamp? clamp = null) =>
        new(QuantScheme.Parse(activationScheme), QuantScheme.Parse(weightScheme), clamp);
}
