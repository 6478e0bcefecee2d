using System;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// A plain, serializable description of a network from which <see cref="Build"/> rebuilds it exactly; a saved
/// model stores this next to its weights.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "family")]
[JsonDerivedType(typeof(QResNetArchitecture), "qresnet")]
[JsonDerivedType(typeof(LeNet5Architecture), "lenet5")]
public abstract record NetworkArchitecture
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Channels of the input images (1 for grey, 3 for RGB).</summary>
    public int InputChannels { get; init; } = 3;

    /// <summary>Number of classes the head predicts.</summary>
    public int NumClasses { get; init; } = 10;

    /// <summary>Builds the network with freshly initialized weights.</summary>
    /// <returns>The network, in training mode, on the CPU.</returns>
    public abstract nn.Module<Tensor, Tensor> Build();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public virtual void Validate()
    {
        if (InputChannels < 1) { throw new ArgumentException($"InputChannels must be ≥ 1 but is {InputChannels}.", nameof(InputChannels)); }
        if (NumClasses < 2) { throw new ArgumentException($"NumClasses must be ≥ 2 but is {NumClasses}.", nameof(NumClasses)); }
    }

    /// <summary>Serializes the description to JSON.</summary>
    /// <returns>Indented JSON with a <c>family</c> discriminator.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a description written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The description, validated.</returns>
    /// <exception cref="FormatException">The text is not a valid description.</exception>
    public static NetworkArchitecture FromJson(string json)
    {
        NetworkArchitecture? result;
        try
        {
            result = JsonSerializer.Deserialize<NetworkArchitecture>(json, JsonOptions);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException)
        {
            throw new FormatException("The network architecture description is not valid: " + ex.Message, ex);
        }
        if (result is null)
        {
            throw new FormatException("The network architecture description is empty.");
        }
        try
        {
            result.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("The network architecture description is not valid: " + ex.Message, ex);
        }
        return result;
    }
}
