using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;

namespace ML.LeastSquaresQuant.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format), gzipped or not: images (magic 0x00000803, [N, rows, cols]
/// unsigned bytes) and labels (magic 0x00000801, [N] unsigned bytes).
/// </summary>
public static class IdxFile
{
    private const int ImagesMagic = 0x00000803;
    private const int LabelsMagic = 0x00000801;

    /// <summary>Reads an image file.</summary>
    /// <param name="path">The .idx3-ubyte file, optionally gzipped.</param>
    /// <returns>Pixels (N·rows·cols bytes, row-major), image count, rows and columns.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The file is not an IDX image file, or is truncated (the message names it).</exception>
    public static (byte[] Pixels, int Count, int Rows, int Columns) ReadImages(string path)
    {
        var bytes = ReadAll(path);
        var header = Header(bytes, path, ImagesMagic, 3);
        int count = header[0], rows = header[1], cols = header[2];
        long expected = 16L + (long)count * rows * cols;
        if (rows <= 0 || cols <= 0 || count < 0 || bytes.LongLength != expected)
        {
            throw new FormatException(
                $"IDX image file '{path}' declares {count} images of {rows}×{cols} ({expected} bytes) but has {bytes.LongLength} bytes.");
        }
        return (bytes[16..], count, rows, cols);
    }

    /// <summary>Reads a label file.</summary>
    /// <param name="path">The .idx1-ubyte file, optionally gzipped.</param>
    /// <returns>One byte per label.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The file is not an IDX label file, or is truncated.</exception>
    public static byte[] ReadLabels(string path)
    {
        var bytes = ReadAll(path);
        int count = Header(bytes, path, LabelsMagic, 1)[0];
        if (count < 0 || bytes.LongLength != 8L + count)
        {
            throw new FormatException($"IDX label file '{path}' declares {count} labels but has {bytes.LongLength - 8} label bytes.");
        }
        return bytes[8..];
    }

    /// <summary>Writes an IDX image file (uncompressed, or gzipped when the path ends in .gz).</summary>
    /// <param name="path">Target file.</param>
    /// <param name="pixels">N·rows·cols bytes.</param>
    /// <param name="rows">Rows per image.</param>
    /// <param name="columns">Columns per image.</param>
    public static void WriteImages(string path, byte[] pixels, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        int count = pixels.Length / (rows * columns);
        Write(path, [ImagesMagic, count, rows, columns], pixels);
    }

    /// <summary>Writes an IDX label file (gzipped when the path ends in .gz).</summary>
    /// <param name="path">Target file.</param>
    /// <param name="labels">One byte per label.</param>
    public static void WriteLabels(string path, byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        Write(path, [LabelsMagic, labels.Length], labels);
    }

    private static void Write(string path, int[] header, byte[] body)
    {
        using var file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> word = stackalloc byte[4];
        foreach (var value in header)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, value);
            stream.Write(word);
        }
        stream.Write(body);
    }

    private static byte[] ReadAll(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
        {
            return raw;
        }
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new FormatException($"IDX file '{path}' is a damaged gzip stream: {ex.Message}", ex);
        }
    }

    private static int[] Header(byte[] bytes, string path, int magic, int dims)
    {
        int actual = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(bytes) : -1;
        if (actual != magic)
        {
            throw new FormatException(
                $"'{path}' is not an IDX {(magic == ImagesMagic ? "image" : "label")} file: magic 0x{actual:X8}, expected 0x{magic:X8}.");
        }
        if (bytes.Length < 4 + 4 * dims)
        {
            throw new FormatException($"IDX file '{path}' is too short ({bytes.Length} bytes) for its header.");
        }
        return Enumerable.Range(0, dims).Select(d => BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d))).ToArray();
    }
}
