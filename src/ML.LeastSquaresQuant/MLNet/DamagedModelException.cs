using System;
using System.IO;
using System.Runtime.ExceptionServices;
using Microsoft.ML;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// A saved model of this library is damaged or was not written by it; the message names the transformer and the
/// field (for example "the image height is 2147483647, outside [1, 4096]").
/// </summary>
/// <remarks>
/// ML.NET calls each transformer's loader by reflection, so <c>mlContext.Model.Load</c> throws this exception
/// wrapped in one or more <see cref="System.Reflection.TargetInvocationException"/> (whose own message is
/// "Exception has been thrown by the target of an invocation."). <see cref="LsQuantModelLoading.LoadLsQuantModel(ModelOperationsCatalog, string, out DataViewSchema)"/>
/// loads the same way and throws this exception itself.
/// </remarks>
public sealed class DamagedModelException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is damaged, naming the transformer and field.</param>
    /// <param name="innerException">The exception that revealed the damage.</param>
    public DamagedModelException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>Loading a saved pipeline so that damage in a model of this library surfaces as <see cref="DamagedModelException"/>.</summary>
public static class LsQuantModelLoading
{
    /// <summary>
    /// <c>mlContext.Model.Load</c>, except that a <see cref="DamagedModelException"/> thrown inside ML.NET's
    /// reflective loader calls reaches the caller unwrapped (other exceptions pass through unchanged).
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="path">The model.zip.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <returns>The loaded pipeline.</returns>
    /// <exception cref="DamagedModelException">A transformer of this library in the file is damaged.</exception>
    public static ITransformer LoadLsQuantModel(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        try
        {
            return catalog.Load(path, out inputSchema);
        }
        catch (Exception ex) when (Find(ex) is DamagedModelException damaged)
        {
            ExceptionDispatchInfo.Throw(damaged);
            throw;
        }
    }

    /// <summary>As <see cref="LoadLsQuantModel(ModelOperationsCatalog, string, out DataViewSchema)"/>, from a stream.</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="stream">The model.zip's bytes.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <returns>The loaded pipeline.</returns>
    /// <exception cref="DamagedModelException">A transformer of this library in the file is damaged.</exception>
    public static ITransformer LoadLsQuantModel(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        try
        {
            return catalog.Load(stream, out inputSchema);
        }
        catch (Exception ex) when (Find(ex) is DamagedModelException damaged)
        {
            ExceptionDispatchInfo.Throw(damaged);
            throw;
        }
    }

    private static DamagedModelException? Find(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is DamagedModelException damaged)
            {
                return damaged;
            }
        }
        return null;
    }
}
