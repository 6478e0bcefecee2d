using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// Small, defensive readers for the saved-model streams: every length is checked against what the stream really
/// holds before anything is allocated from it, and text read from a damaged file is escaped before it goes into
/// an exception message.
/// </summary>
internal static class ModelText
{
    /// <summary>The longest text from a file that is quoted in an error message.</summary>
    public const int MaxQuotedLength = 80;

    private const int Chunk = 1 << 20;

    /// <summary>Escapes control and non-printable characters and caps the length, for quoting in a message.</summary>
    /// <param name="text">Text read from a file.</param>
    /// <param name="maxLength">Characters kept before "…".</param>
    /// <returns>Printable text of at most about <paramref name="maxLength"/> characters.</returns>
    public static string Printable(string text, int maxLength = MaxQuotedLength)
    {
        var sb = new StringBuilder();
        foreach (char c in text)
        {
            if (sb.Length >= maxLength)
            {
                sb.Append('…');
                break;
            }
            sb.Append(char.IsControl(c) || char.IsSurrogate(c) || c == '\uFFFD' ? $"\\u{(int)c:X4}" : c.ToString());
        }
        return sb.ToString();
    }

    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes, in chunks, so that a damaged length prefix costs at most about
    /// the bytes the stream really holds (plus one chunk) rather than an allocation of the claimed size.
    /// </summary>
    /// <param name="reader">The reader.</param>
    /// <param name="length">The claimed length, already checked to be within [0, int.MaxValue].</param>
    /// <param name="what">The field, for the message.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="FormatException">The stream ends first.</exception>
    public static byte[] ReadExactly(BinaryReader reader, long length, string what)
    {
        var stream = reader.BaseStream;
        if (stream.CanSeek && length > stream.Length - stream.Position)
        {
            throw new FormatException($"{what} is truncated ({stream.Length - stream.Position} of {length} bytes)");
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[(int)Math.Min(Chunk, length)];
        long left = length;
        while (left > 0)
        {
            int got = reader.Read(chunk, 0, (int)Math.Min(chunk.Length, left));
            if (got == 0)
            {
                throw new FormatException($"{what} is truncated ({length - left} of {length} bytes)");
            }
            buffer.Write(chunk, 0, got);
            left -= got;
        }
        return buffer.ToArray();
    }

    /// <summary>Reads a count and checks it is within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="reader">The reader.</param>
    /// <param name="min">Smallest valid value.</param>
    /// <param name="max">Largest valid value.</param>
    /// <param name="what">The field, for the message.</param>
    /// <returns>The value.</returns>
    public static int ReadInt32(BinaryReader reader, int min, int max, string what)
    {
        int value = reader.ReadInt32();
        if (value < min || value > max)
        {
            throw new FormatException($"{what} is {value}, outside [{min}, {max}]");
        }
        return value;
    }

    /// <summary>Reads <paramref name="count"/> doubles, each finite and above <paramref name="above"/> when given.</summary>
    /// <param name="reader">The reader.</param>
    /// <param name="count">How many.</param>
    /// <param name="what">The field, for the message.</param>
    /// <param name="above">Exclusive lower bound, or null for any finite value.</param>
    /// <returns>The values.</returns>
    public static double[] ReadFinite(BinaryReader reader, int count, string what, double? above = null)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = reader.ReadDouble();
            if (!double.IsFinite(values[i]) || (above is double bound && !(values[i] > bound)))
            {
                throw new FormatException($"{what}[{i}] is {values[i]}; it must be finite" + (above is null ? "" : $" and > {above}"));
            }
        }
        return values;
    }
}

/// <summary>A read-only pass-through stream that hashes (SHA-256) every byte read through it.</summary>
internal sealed class HashingReadStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>The SHA-256 of the bytes read so far.</summary>
    /// <returns>32 bytes.</returns>
    public byte[] CurrentHash() => _hash.GetCurrentHash();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count)
    {
        int got = inner.Read(buffer, offset, count);
        _hash.AppendData(buffer, offset, got);
        return got;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Collects what a writer wrote so its SHA-256 can be appended.</summary>
internal static class ModelChecksum
{
    /// <summary>Bytes of the SHA-256 checksum written after the payload in format version 2.</summary>
    public const int Length = 32;

    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="writer"/>, then its SHA-256.</summary>
    /// <param name="writer">The destination.</param>
    /// <param name="write">Writes the payload.</param>
    public static void WriteWithChecksum(BinaryWriter writer, Action<BinaryWriter> write)
    {
        using var payload = new MemoryStream();
        using (var payloadWriter = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            write(payloadWriter);
        }
        var bytes = payload.GetBuffer().AsSpan(0, (int)payload.Length);
        writer.Write(bytes);
        writer.Write(SHA256.HashData(bytes));
    }

    /// <summary>Reads the stored checksum after the payload and compares it with what was read.</summary>
    /// <param name="hashing">The stream the payload was read through.</param>
    /// <param name="reader">A reader on the same stream.</param>
    /// <exception cref="FormatException">The checksum is missing or differs.</exception>
    public static void Verify(HashingReadStream hashing, BinaryReader reader)
    {
        var actual = hashing.CurrentHash();
        var stored = reader.ReadBytes(Length);
        if (stored.Length != Length || !actual.AsSpan().SequenceEqual(stored))
        {
            throw new FormatException("the checksum (SHA-256) of the model's data does not match: the file is damaged");
        }
    }

}
