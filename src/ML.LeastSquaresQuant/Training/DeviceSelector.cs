using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>Turns a device request into a TorchSharp device: CUDA when asked and available, else CPU or an error.</summary>
public static class DeviceSelector
{
    /// <summary>
    /// Loads TorchSharp's CUDA backend if it can be loaded. Call it first thing in a program that wants CUDA:
    /// libtorch picks its backend libraries when it is first used, so a later attempt can fail where this one works.
    /// </summary>
    /// <returns>Whether CUDA is usable.</returns>
    public static bool InitializeCuda() => TryInitializeDeviceType(DeviceType.CUDA) && cuda.is_available();

    private static bool CudaAvailable() => cuda.is_available() || InitializeCuda();

    /// <summary>Resolves a device request.</summary>
    /// <param name="requested"><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, or <see langword="null"/>/<c>auto</c> (CUDA when available).</param>
    /// <param name="fallbackToCpu">Use the CPU when CUDA is requested but unavailable, instead of throwing.</param>
    /// <returns>The device.</returns>
    /// <exception cref="ArgumentException">The request is not a device name.</exception>
    /// <exception cref="InvalidOperationException">CUDA was requested, is unavailable, and fallback is off.</exception>
    public static Device Resolve(string? requested, bool fallbackToCpu)
    {
        var text = requested?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(text) || text == "auto")
        {
            return CudaAvailable() ? CUDA : CPU;
        }
        if (text == "cpu")
        {
            return CPU;
        }
        int index = 0;
        if (text != "cuda" && !(text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), out index) && index >= 0))
        {
            throw new ArgumentException($"'{requested}' is not a device: use cpu, cuda, cuda:N or auto.", nameof(requested));
        }
        if (CudaAvailable() && index < cuda.device_count())
        {
            return new Device(DeviceType.CUDA, index);
        }
        if (fallbackToCpu)
        {
            return CPU;
        }
        throw new InvalidOperationException(
            $"Device '{requested}' was requested but CUDA is not available ({cuda.device_count()} CUDA devices visible). " +
            "Build with -p:TorchSharpBackend=cuda-linux (or cuda-windows) on a machine with an NVIDIA GPU, or allow CPU fallback.");
    }
}
