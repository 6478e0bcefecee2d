using System;
using System.Globalization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>The clamp applied to activations before they are quantized: identity or symmetric [−alpha, alpha].</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(ActivationClampJsonConverter))]
public sealed record ActivationClamp
{
    private ActivationClamp(double alpha) => Alpha = alpha;

    /// <summary>No clamp.</summary>
    public static ActivationClamp Identity { get; } = new(double.PositiveInfinity);

    /// <summary>The clamp bound; +∞ for <see cref="Identity"/>.</summary>
    public double Alpha { get; }

    /// <summary>True when this clamp changes nothing.</summary>
    public bool IsIdentity => double.IsPositiveInfinity(Alpha);

    /// <summary>Clamp to [−alpha, alpha] (the CIFAR recipes use 2, ImageNet 3).</summary>
    /// <param name="alpha">A finite bound &gt; 0.</param>
    /// <returns>The clamp.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="alpha"/> is not finite and positive.</exception>
    public static ActivationClamp Symmetric(double alpha)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "A symmetric clamp needs a finite alpha > 0.");
        }
        return new ActivationClamp(alpha);
    }

    /// <summary>Applies the clamp (a new tensor; the identity returns an alias).</summary>
    /// <param name="x">The activations.</param>
    /// <returns>The clamped activations.</returns>
    public Tensor Apply(Tensor x) => IsIdentity ? x.alias() : x.clamp(-Alpha, Alpha);

    /// <summary><c>identity</c> or <c>symmetric(alpha)</c>.</summary>
    /// <returns>The clamp's name.</returns>
    public override string ToString() =>
        IsIdentity ? "identity" : "symmetric(" + Alpha.ToString("R", CultureInfo.InvariantCulture) + ")";
}
