using System;

namespace ML.LeastSquaresQuant.Cli;

/// <summary>A configuration problem; the message names the file and the key.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
