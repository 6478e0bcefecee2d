using System;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ML.LeastSquaresQuant.Modules;

/// <summary>Writes an <see cref="ActivationClamp"/> as <c>null</c> (identity) or its alpha, and reads it back.</summary>
public sealed class ActivationClampJsonConverter : JsonConverter<ActivationClamp>
{
    /// <inheritdoc/>
    public override ActivationClamp? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? ActivationClamp.Identity : ActivationClamp.Symmetric(reader.GetDouble());

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, ActivationClamp? value, JsonSerializerOptions options)
    {
        if (value is null || value.IsIdentity) { writer.WriteNullValue(); } else { writer.WriteNumberValue(value.Alpha); }
    }

    /// <inheritdoc/>
    public override bool HandleNull => true;
}
