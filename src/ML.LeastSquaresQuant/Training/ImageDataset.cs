using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// A labelled image set held as one tensor [N, C, H, W] (uint8 0..255 or float32) plus int64 labels [N], so that
/// batches and augmentation happen on the training device without per-sample host work.
/// </summary>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Wraps tensors (the dataset takes ownership of them).</summary>
    /// <param name="images">Images [N, C, H, W], uint8 (scaled by 1/255 when batched) or float32 (used as is).</param>
    /// <param name="labels">Labels [N], integer, each in [0, <paramref name="numClasses"/>).</param>
    /// <param name="numClasses">The number of classes (≥ 2).</param>
    /// <exception cref="ArgumentException">The data is empty, shapes or types are wrong, or a label is out of range.</exception>
    public ImageDataset(Tensor images, Tensor labels, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.dim() != 4)
        {
            throw new ArgumentException($"Images must be [N, C, H, W] but have shape [{string.Join(", ", images.shape)}].", nameof(images));
        }
        if (images.dtype is not (ScalarType.Byte or ScalarType.Float32))
        {
            throw new ArgumentException($"Images must be uint8 or float32 but are {images.dtype}.", nameof(images));
        }
        if (images.shape[0] == 0)
        {
            throw new ArgumentException("The data set is empty: it has no images.", nameof(images));
        }
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
        {
            throw new ArgumentException(
                $"Labels must be [N] with N = {images.shape[0]} (one per image) but have shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        }
        if (!torch.is_integral(labels.dtype))
        {
            throw new ArgumentException($"Labels must be integers but are {labels.dtype}.", nameof(labels));
        }
        if (numClasses < 2)
        {
            throw new ArgumentException($"A classifier needs at least 2 classes but numClasses is {numClasses}.", nameof(numClasses));
        }
        using (var min = labels.min())
        using (var max = labels.max())
        {
            long lo = min.item<long>(), hi = max.item<long>();
            if (lo < 0 || hi >= numClasses)
            {
                throw new ArgumentException(
                    $"Label {(lo < 0 ? lo : hi)} is out of range: labels must be in [0, {numClasses - 1}] for {numClasses} classes.", nameof(labels));
            }
        }
        Images = images;
        Labels = labels.dtype == ScalarType.Int64 ? labels : labels.to_type(ScalarType.Int64);
        NumClasses = numClasses;
    }

    /// <summary>Images [N, C, H, W].</summary>
    public Tensor Images { get; private set; }

    /// <summary>Labels [N], int64.</summary>
    public Tensor Labels { get; private set; }

    /// <summary>Classes; labels lie in [0, NumClasses).</summary>
    public int NumClasses { get; }

    /// <summary>The number of images.</summary>
    public long Count => Images.shape[0];

    /// <summary>Channels per image.</summary>
    public long Channels => Images.shape[1];

    /// <summary>Image height.</summary>
    public long Height => Images.shape[2];

    /// <summary>Image width.</summary>
    public long Width => Images.shape[3];

    /// <summary>Builds a data set from interleaved-free (planar, C×H×W per image) bytes.</summary>
    /// <param name="pixels">N·C·H·W bytes.</param>
    /// <param name="labels">One class index per image.</param>
    /// <param name="channels">Channels per image (1 grey, 3 RGB).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="numClasses">Classes; every label must lie in [0, numClasses).</param>
    /// <returns>The data set.</returns>
    public static ImageDataset FromPixels(byte[] pixels, int[] labels, int channels, int height, int width, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        long per = (long)channels * height * width;
        if (per <= 0 || pixels.LongLength != per * labels.LongLength)
        {
            throw new ArgumentException($"{pixels.LongLength} pixels do not make {labels.Length} images of {channels}×{height}×{width}.", nameof(pixels));
        }
        return new ImageDataset(torch.tensor(pixels, [labels.Length, channels, height, width]),
            torch.tensor(labels).to_type(ScalarType.Int64), numClasses);
    }

    /// <summary>Moves the data to <paramref name="device"/> (no copy when it is already there).</summary>
    /// <param name="device">The target device.</param>
    public void MoveTo(Device device)
    {
        if (Images.device == device)
        {
            return;
        }
        var images = Images.to(device);
        var labels = Labels.to(device);
        Images.Dispose();
        Labels.Dispose();
        Images = images;
        Labels = labels;
    }

    /// <summary>The images at <paramref name="indices"/> as float32 (uint8 scaled to [0, 1]).</summary>
    internal Tensor ImagesAt(Tensor indices)
    {
        var batch = Images.index_select(0, indices);
        return Images.dtype == ScalarType.Byte ? batch.to_type(ScalarType.Float32).div_(255.0) : batch;
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
