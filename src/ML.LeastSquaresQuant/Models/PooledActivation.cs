using System;
using System.Buffers;
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
    private readonly Tensor _flat;

    /// <summary>Rents an uninitialised buffer for [N, H, W, C].</summary>
    public PooledActivation(int batch, int height, int width, int channels)
    {
        long length = (long)batch * height * width * channels;
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"{length} activations do not fit one array; score fewer images per call.");
        }
        _array = ArrayPool<float>.Shared.Rent((int)length + AlignmentFloats);
        // from_array pins the array for the tensor's lifetime and shares its memory. The view starts on a 64-byte
        // boundary, as libtorch's own allocations do: its matrix kernels may add in a different order on data
        // aligned otherwise, and the engine must give the float path's bits (docs/inference.md).
        using var whole = from_array(_array);
        _flat = whole.narrow(0, AlignedOffset(whole), length);
        Nchw = _flat.view(batch, height, width, channels).permute(0, 3, 1, 2);
        Length = length;
    }

    private const int AlignmentBytes = 64;
    private const int AlignmentFloats = AlignmentBytes / sizeof(float);

    private static unsafe long AlignedOffset(Tensor whole)
    {
        fixed (byte* p = whole.bytes)
        {
            long misalignment = (long)((nuint)p % AlignmentBytes);
            return misalignment == 0 ? 0 : (AlignmentBytes - misalignment) / sizeof(float);
        }
    }

    /// <summary>N·H·W·C.</summary>
    public long Length { get; }

    /// <summary>The activations as a tensor [N, C, H, W] with channels-last memory; valid until disposal.</summary>
    public Tensor Nchw { get; }

    /// <summary>The first value; the memory stays pinned until disposal.</summary>
    public unsafe float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_array is null, this);
            fixed (byte* p = _flat.bytes)
            {
                return (float*)p;
            }
        }
    }

    /// <summary>Releases the tensors, then returns the array to the pool.</summary>
    public void Dispose()
    {
        if (_array is null)
        {
            return;
        }
        Nchw.Dispose();
        _flat.Dispose();
        ArrayPool<float>.Shared.Return(_array);
        _array = null;
    }
}
