using System;
using System.Collections.Generic;
using System.IO;

namespace ML.LeastSquaresQuant.Data;

/// <summary>The CIFAR binary layouts.</summary>
public enum CifarFormat
{
    /// <summary>CIFAR-10: one label byte, then 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32×32).</summary>
    Cifar10 = 0,

    /// <summary>CIFAR-100: a coarse label byte, a fine label byte, then 3072 pixel bytes.</summary>
    Cifar100 = 1,
}

/// <summary>Reads CIFAR-10 and CIFAR-100 binary files (data_batch_*.bin, test_batch.bin, train.bin, test.bin).</summary>
public static class CifarBinary
{
    /// <summary>Bytes of one image (3×32×32, planar).</summary>
    public const int ImageBytes = 3 * 32 * 32;

    /// <summary>Reads files of one format.</summary>
    /// <param name="format">CIFAR-10 or CIFAR-100.</param>
    /// <param name="coarseLabels">CIFAR-100 only: return the 20 coarse labels instead of the 100 fine ones.</param>
    /// <param name="paths">The files, read in order.</param>
    /// <returns>Planar pixels (N·3072 bytes) and labels.</returns>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="FormatException">A file's length is not a whole number of records, or a label is out of range.</exception>
    public static (byte[] Pixels, byte[] Labels) Read(CifarFormat format, bool coarseLabels, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown CIFAR format.");
        }
        int labelBytes = format == CifarFormat.Cifar10 ? 1 : 2;
        int record = labelBytes + ImageBytes;
        int classes = format == CifarFormat.Cifar10 ? 10 : coarseLabels ? 20 : 100;
        var pixels = new List<byte>();
        var labels = new List<byte>();
        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"CIFAR file '{path}' does not exist.", path);
            }
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % record != 0)
            {
                throw new FormatException(
                    $"CIFAR file '{path}' has {bytes.Length} bytes, not a whole number of {format} records of {record} bytes.");
            }
            for (int offset = 0; offset < bytes.Length; offset += record)
            {
                byte label = format == CifarFormat.Cifar10 || coarseLabels ? bytes[offset] : bytes[offset + 1];
                if (label >= classes)
                {
                    throw new FormatException($"CIFAR file '{path}' has label {label} at record {offset / record}; {format} has {classes} classes.");
                }
                labels.Add(label);
                pixels.AddRange(new ArraySegment<byte>(bytes, offset + labelBytes, ImageBytes));
            }
        }
        return (pixels.ToArray(), labels.ToArray());
    }
}
