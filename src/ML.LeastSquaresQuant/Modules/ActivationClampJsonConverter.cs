using System;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>Writes an <see cref="ActivationClamp"/> as <c>null</c> (identity) or its alpha, and reads it back.</summary>
public sealed class ActivationClampJsonConverter : JsonConverter<ActivationClamp>
{
    /// <inheritdoc/>
    /// <exception cref="JsonException">The alpha is above <see cref="MaxAlpha"/> (a damaged file: activations
    /// are normalized, so a clamp that large is never trained and would overflow the quantizer's arithmetic).</exception>
    public override ActivationClamp? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return ActivationClamp.Identity;
        }
        double alpha = reader.GetDouble();
        if (!(alpha <= MaxAlpha))
        {
            throw new JsonException($"The activation clamp {alpha} is above {MaxAlpha}.");
        }
        return ActivationClamp.Symmetric(alpha);
    }

    /// <summary>The largest clamp alpha read from JSON.</summary>
    public const double MaxAlpha = 1e6;

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ActivationClamp? value, JsonSerializerOptions options)
    {
        if (value is null || value.IsIdentity) { writer.WriteNullValue(); } else { writer.WriteNumberValue(value.Alpha); }
    }

    /// <inheritdoc/>
    public override bool HandleNull => true;
}
