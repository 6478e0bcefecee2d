using System;
using System.Buffers;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>
/// NHWC float32 activations [N, H, W, C] in an array rented from <see cref="ArrayPool{T}.Shared"/>, also visible to
/// libtorch as a channels-last [N, C, H, W] tensor over the same memory (no copy).
/// </summary>
/// <remarks>
/// A fresh libtorch tensor of several megabytes is served by the C allocator straight from the kernel, so every
/// page is faulted in again on first touch; on our 2-core machine that made writing a 16 MB block output cost
/// about five times the convolution that computed it (docs/inference.md). Pooled arrays are reused from call to
/// call without touching the C allocator's process-wide settings.
/// </remarks>
internal sealed class PooledActivation : IDisposable
{
    private float[]? _array;
    private GCHandle _pin;
    private readonly long _offset;
    private Tensor? _flat, _nchw;

    /// <summary>Rents an uninitialised buffer for [N, H, W, C]; the tensor view is made on first use, so a pass that
    /// only hands pointers from block to block calls no libtorch function for it.</summary>
    public PooledActivation(int batch, int height, int width, int channels)
    {
        long length = (long)batch * height * width * channels;
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"{length} activations do not fit one array; score fewer images per call.");
        }
        _array = ArrayPool<float>.Shared.Rent((int)length + AlignmentFloats);
        _pin = GCHandle.Alloc(_array, GCHandleType.Pinned);
        // The data start on a 64-byte boundary, as libtorch's own allocations do: its matrix kernels may add in a
        // different order on data aligned otherwise, and the engine must give the float path's bits (docs/inference.md).
        long misalignment = (long)((nuint)_pin.AddrOfPinnedObject() % AlignmentBytes);
        _offset = misalignment == 0 ? 0 : (AlignmentBytes - misalignment) / sizeof(float);
        (Batch, Height, Width, Channels, Length) = (batch, height, width, channels, length);
    }

    private const int AlignmentBytes = 64;
    private const int AlignmentFloats = AlignmentBytes / sizeof(float);

    /// <summary>N.</summary>
    public int Batch { get; }

    /// <summary>H.</summary>
    public int Height { get; }

    /// <summary>W.</summary>
    public int Width { get; }

    /// <summary>C.</summary>
    public int Channels { get; }

    /// <summary>N·H·W·C.</summary>
    public long Length { get; }

    /// <summary>The activations as a tensor [N, C, H, W] with channels-last memory (a view of the array, made on first
    /// use); valid until disposal.</summary>
    public Tensor Nchw
    {
        get
        {
            ObjectDisposedException.ThrowIf(_array is null, this);
            if (_nchw is null)
            {
                // from_array shares the (already pinned) array's memory.
                using var whole = from_array(_array);
                _flat = whole.narrow(0, _offset, Length);
                _nchw = _flat.view(Batch, Height, Width, Channels).permute(0, 3, 1, 2);
            }
            return _nchw;
        }
    }

    /// <summary>The first value; the memory stays pinned until disposal.</summary>
    public unsafe float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_array is null, this);
            return (float*)_pin.AddrOfPinnedObject() + _offset;
        }
    }

    /// <summary>Releases the tensors, then returns the array to the pool.</summary>
    public void Dispose()
    {
        if (_array is null)
        {
            return;
        }
        _nchw?.Dispose();
        _flat?.Dispose();
        _pin.Free();
        ArrayPool<float>.Shared.Return(_array);
        _array = null;
    }
}
