using System;
using System.Globalization;

namespace ML.LeastSquaresQuant.Quantization;

/// <summary>
/// A scaled-binary quantization scheme: <c>fp</c>, <c>ls-1</c>, <c>ls-2</c>, <c>ls-T</c> or <c>gf-k</c> (k ≥ 1).
/// The names are the public, case-sensitive spelling used in options and configuration files.
/// </summary>
/// <remarks>
/// <c>gf-1</c> quantizes exactly like <c>ls-1</c> but keeps its own name so that a configuration round-trips.
/// </remarks>
[System.Text.Json.Serialization.JsonConverter(typeof(QuantSchemeJsonConverter))]
public readonly record struct QuantScheme
{
    /// <summary>The largest k accepted for <c>gf-k</c>; more bits than float32 mantissa bits cannot help.</summary>
    public const int MaxGreedyBits = 24;

    /// <summary>The valid scheme names, as listed in error messages.</summary>
    public const string ValidSchemesText = "fp, ls-1, ls-2, ls-T, gf-k (k = 1.." + "24)";

    private QuantScheme(QuantSchemeKind kind, int greedyBits)
    {
        Kind = kind;
        GreedyBits = greedyBits;
    }

    /// <summary>The identity scheme <c>fp</c>.</summary>
    public static QuantScheme FullPrecision { get; } = new(QuantSchemeKind.FullPrecision, 0);

    /// <summary>The scheme <c>ls-1</c>.</summary>
    public static QuantScheme LeastSquares1 { get; } = new(QuantSchemeKind.LeastSquares1, 0);

    /// <summary>The scheme <c>ls-2</c>.</summary>
    public static QuantScheme LeastSquares2 { get; } = new(QuantSchemeKind.LeastSquares2, 0);

    /// <summary>The scheme <c>ls-T</c>.</summary>
    public static QuantScheme LeastSquaresTernary { get; } = new(QuantSchemeKind.LeastSquaresTernary, 0);

    /// <summary>The family of this scheme.</summary>
    public QuantSchemeKind Kind { get; }

    /// <summary>k for <c>gf-k</c>; 0 for every other scheme.</summary>
    public int GreedyBits { get; }

    /// <summary>True for every scheme but <c>fp</c>.</summary>
    public bool IsQuantized => Kind != QuantSchemeKind.FullPrecision;

    /// <summary>
    /// How many scalars a row has: 0 for <c>fp</c>, 1 for <c>ls-1</c> and <c>ls-T</c>, 2 for <c>ls-2</c>, k for <c>gf-k</c>.
    /// </summary>
    public int ScalarCount => Kind switch
    {
        QuantSchemeKind.FullPrecision => 0,
        QuantSchemeKind.LeastSquares1 => 1,
        QuantSchemeKind.LeastSquares2 => 2,
        QuantSchemeKind.LeastSquaresTernary => 1,
        _ => GreedyBits,
    };

    /// <summary>
    /// How many binary vectors reconstruct a row: the number of sign bits stored per element
    /// (0 for <c>fp</c>, 2 for <c>ls-T</c> whose two vectors share one scalar).
    /// </summary>
    public int BinaryVectorCount => Kind == QuantSchemeKind.LeastSquaresTernary ? 2 : ScalarCount;

    /// <summary>The scheme <c>gf-k</c>.</summary>
    /// <param name="bits">k, from 1 to <see cref="MaxGreedyBits"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bits"/> is out of range.</exception>
    public static QuantScheme Greedy(int bits)
    {
        if (bits < 1 || bits > MaxGreedyBits)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits,
                $"gf-k needs 1 <= k <= {MaxGreedyBits}; valid schemes: {ValidSchemesText}.");
        }
        return new QuantScheme(QuantSchemeKind.GreedyFoldable, bits);
    }

    /// <summary>Parses a scheme name (<c>fp</c>, <c>ls-1</c>, <c>ls-2</c>, <c>ls-T</c>, <c>gf-k</c>).</summary>
    /// <param name="text">The name; surrounding white space is ignored, case is not.</param>
    /// <returns>The scheme.</returns>
    /// <exception cref="ArgumentException">The name is not a valid scheme; the message names it and lists the valid ones.</exception>
    public static QuantScheme Parse(string text)
    {
        if (TryParse(text, out var scheme))
        {
            return scheme;
        }
        throw new ArgumentException(
            $"'{text}' is not a quantization scheme; valid schemes: {ValidSchemesText}.", nameof(text));
    }

    /// <summary>Parses a scheme name without throwing.</summary>
    /// <param name="text">The name, as for <see cref="Parse(string)"/>.</param>
    /// <param name="scheme">The scheme when the name is valid.</param>
    /// <returns><see langword="true"/> when <paramref name="text"/> is a valid scheme name.</returns>
    public static bool TryParse(string? text, out QuantScheme scheme)
    {
        scheme = default;
        if (text is null)
        {
            return false;
        }
        switch (text.Trim())
        {
            case "fp": scheme = FullPrecision; return true;
            case "ls-1": scheme = LeastSquares1; return true;
            case "ls-2": scheme = LeastSquares2; return true;
            case "ls-T": scheme = LeastSquaresTernary; return true;
        }
        var trimmed = text.Trim();
        if (trimmed.StartsWith("gf-", StringComparison.Ordinal)
            && trimmed.Length > 3 && trimmed.Length <= 5
            && char.IsAsciiDigit(trimmed[3]) && trimmed[3] != '0'
            && int.TryParse(trimmed.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            && k >= 1 && k <= MaxGreedyBits)
        {
            scheme = new QuantScheme(QuantSchemeKind.GreedyFoldable, k);
            return true;
        }
        return false;
    }

    /// <summary>The scheme's name, as accepted by <see cref="Parse(string)"/>.</summary>
    /// <returns>For example <c>ls-2</c> or <c>gf-3</c>.</returns>
    public override string ToString() => Kind switch
    {
        QuantSchemeKind.FullPrecision => "fp",
        QuantSchemeKind.LeastSquares1 => "ls-1",
        QuantSchemeKind.LeastSquares2 => "ls-2",
        QuantSchemeKind.LeastSquaresTernary => "ls-T",
        _ => "gf-" + GreedyBits.ToString(CultureInfo.InvariantCulture),
    };
}
