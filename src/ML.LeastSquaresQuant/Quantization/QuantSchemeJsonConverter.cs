using System;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>Writes a <see cref="QuantScheme"/> as its name (<c>"ls-2"</c>) and reads it back with validation.</summary>
public sealed class QuantSchemeJsonConverter : JsonConverter<QuantScheme>
{
    /// <inheritdoc/>
    public override QuantScheme Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        if (!QuantScheme.TryParse(text, out var scheme))
        {
            throw new JsonException($"'{text}' is not a quantization scheme; valid schemes: {QuantScheme.ValidSchemesText}.");
        }
        return scheme;
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, QuantScheme value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
