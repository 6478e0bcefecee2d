using System;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Quantization;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Sets the library's process-wide comparison switches for a using-block and restores them after.</summary>
internal static class ProcessSwitches
{
    /// <summary>Scalar loops instead of the AVX2 kernels while the result lives.</summary>
    public static IDisposable ScalarLoops(bool on) => Set(() => VectorKernels.Disabled, v => VectorKernels.Disabled = v, on);

    /// <summary>The AVX2 row passes of the scalar solver instead of the AVX-512 ones while the result lives.</summary>
    public static IDisposable NarrowVectorLoops(bool on) => Set(() => VectorKernels.WideDisabled, v => VectorKernels.WideDisabled = v, on);

    /// <summary>Plain libtorch convolutions instead of the routed ones while the result lives.</summary>
    public static IDisposable PlainConvolutions(bool on) => Set(() => Convolution.Plain, v => Convolution.Plain = v, on);

    /// <summary>The binary engine for every quantized layer, however narrow, while the result lives (set it before a
    /// transformer is created or loaded: the choice is made then).</summary>
    public static IDisposable BinaryEngineEverywhere() => EngineThreshold(1);

    /// <summary>No quantized layer on the binary engine or its float path: every layer scores in training's
    /// arithmetic while the result lives (the choice is made when the engine is switched).</summary>
    public static IDisposable BinaryEngineNowhere() => EngineThreshold(int.MaxValue);

    private static IDisposable EngineThreshold(int channels)
    {
        int saved = BinaryConvolution.MinInputChannels;
        BinaryConvolution.MinInputChannels = channels;
        return new Restorer(() => BinaryConvolution.MinInputChannels = saved);
    }

    private static IDisposable Set(Func<bool> get, Action<bool> set, bool value)
    {
        bool saved = get();
        set(value);
        return new Restorer(() => set(saved));
    }

    private sealed class Restorer(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
