using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary>
/// Takes a saved model.zip apart for the hostile-file campaign: the LsQuantResNet payload entry (our own binary
/// stream) with the offset of each field, the entry's <c>Model.key</c> header, and re-zipping with edits.
/// </summary>
internal sealed class HostileModelFile
{
    private const string PayloadName = "LsQuantPayload";

    // ML.NET's ModelHeader: ModelVerWritten and ModelVerReadable are the two uints after the 8-byte model signature at 0x40.
    private const int VerWrittenOffset = 0x48, VerReadableOffset = 0x4C;

    private readonly byte[] _zip;

    public HostileModelFile(byte[] zip)
    {
        _zip = zip;
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        PayloadEntry = archive.Entries.Single(e => e.FullName.EndsWith("/" + PayloadName, StringComparison.Ordinal)).FullName;
        KeyEntry = PayloadEntry[..^PayloadName.Length] + "Model.key";
        Payload = Read(archive, PayloadEntry);
        Key = Read(archive, KeyEntry);
        Fields = new PayloadFields(Payload, HasChecksum);
    }

    public string PayloadEntry { get; }

    public string KeyEntry { get; }

    /// <summary>Our stream, checksum included (format version 2).</summary>
    public byte[] Payload { get; }

    public byte[] Key { get; }

    public PayloadFields Fields { get; }

    /// <summary>Whether the payload ends with a SHA-256 (format version 2 and later).</summary>
    public bool HasChecksum => BitConverter.ToUInt32(Key, VerWrittenOffset) >= 2;

    /// <summary>The zip with <paramref name="entry"/> replaced by <paramref name="bytes"/>.</summary>
    public byte[] With(string entry, byte[] bytes)
    {
        var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(_zip), ZipArchiveMode.Read))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var e in source.Entries)
            {
                using var stream = target.CreateEntry(e.FullName).Open();
                stream.Write(e.FullName == entry ? bytes : Read(source, e.FullName));
            }
        }
        return output.ToArray();
    }

    /// <summary>The zip with a payload edited and its checksum recomputed, as a deliberate forger would.</summary>
    public byte[] Forged(byte[] payload) => With(PayloadEntry, HasChecksum ? Rehash(payload) : payload);

    /// <summary>The zip with the stored format version changed (written and readable).</summary>
    public byte[] WithVersion(uint version, byte[]? payload = null)
    {
        var key = (byte[])Key.Clone();
        BitConverter.TryWriteBytes(key.AsSpan(VerWrittenOffset), version);
        BitConverter.TryWriteBytes(key.AsSpan(VerReadableOffset), version);
        var edited = new HostileModelFile(With(KeyEntry, key));
        return payload is null ? edited._zip : edited.With(PayloadEntry, payload);
    }

    /// <summary>A format-version-1 file: the same payload without the checksum.</summary>
    public byte[] Version1() => WithVersion(1, HasChecksum ? Payload[..^32] : Payload);

    /// <summary>Copy of the payload with bytes from <paramref name="offset"/> overwritten.</summary>
    public byte[] Patch(int offset, byte[] bytes)
    {
        var copy = (byte[])Payload.Clone();
        bytes.CopyTo(copy, offset);
        return copy;
    }

    /// <summary>Copy of the payload with the string at a field replaced (its length prefix rewritten).</summary>
    public byte[] ReplaceString((int Start, int End) field, string text)
    {
        using var encoded = new MemoryStream();
        using (var writer = new BinaryWriter(encoded, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(text);
        }
        return [.. Payload[..field.Start], .. encoded.ToArray(), .. Payload[field.End..]];
    }

    private static byte[] Rehash(byte[] payload)
    {
        var body = payload[..^32];
        return [.. body, .. SHA256.HashData(body)];
    }

    private static byte[] Read(ZipArchive archive, string name)
    {
        using var stream = archive.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

/// <summary>Offsets of the fields in an LsQuantResNet payload and of the tensors in its state_dict stream.</summary>
internal sealed class PayloadFields
{
    public PayloadFields(byte[] payload, bool packed)
    {
        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        var stream = reader.BaseStream;
        reader.ReadString();
        reader.ReadString();
        reader.ReadString();
        Shape = (int)stream.Position;
        reader.ReadBytes(12);
        KeyCount = (int)stream.Position;
        int keys = reader.ReadInt32();
        for (int i = 0; i < keys; i++)
        {
            reader.ReadString();
        }
        Channels = (int)stream.Position;
        int channels = reader.ReadInt32();
        Mean = (int)stream.Position;
        Std = Mean + 8 * channels;
        stream.Position = Std + 8 * channels;
        int start = (int)stream.Position;
        ArchitectureJson = reader.ReadString();
        Architecture = (start, (int)stream.Position);
        start = (int)stream.Position;
        reader.ReadString();
        History = (start, (int)stream.Position);
        StateLength = (int)stream.Position;
        long length = reader.ReadInt64();
        State = (int)stream.Position;
        // Parsed on first use: a copy whose version was edited need not be parseable as that version.
        _tensors = new Lazy<IReadOnlyList<(string, int, int, int)>>(() => packed ? ParsePacked(payload, State) : ParseState(payload, State));
        StateEnd = State + (int)length;
    }

    public int Shape { get; }

    public int KeyCount { get; }

    public int Channels { get; }

    public int Mean { get; }

    public int Std { get; }

    public string ArchitectureJson { get; }

    public (int Start, int End) Architecture { get; }

    public (int Start, int End) History { get; }

    public int StateLength { get; }

    public int State { get; }

    public int StateEnd { get; }

    /// <summary>Per tensor: name, offset of the name's length prefix, of its first dimension, and of its data.</summary>
    public IReadOnlyList<(string Name, int NameAt, int DimAt, int DataAt)> Tensors => _tensors.Value;

    private readonly Lazy<IReadOnlyList<(string, int, int, int)>> _tensors;

    // Format version 2 (docs/model-format.md): a packed convolution's entry is listed twice, as NAME (its first
    // dimension field and sign bits) and as "NAME scalars" (its step scalars), so edits can reach both.
    private static List<(string, int, int, int)> ParsePacked(byte[] payload, int at)
    {
        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        reader.BaseStream.Position = at;
        int count = reader.ReadInt32();
        var result = new List<(string, int, int, int)>();
        for (int i = 0; i < count; i++)
        {
            int nameAt = (int)reader.BaseStream.Position;
            string name = reader.ReadString();
            byte kind = reader.ReadByte();
            int dimAt = (int)reader.BaseStream.Position;
            if (kind == 1)
            {
                int o = reader.ReadInt32(), c = reader.ReadInt32(), k = reader.ReadInt32(), planes = reader.ReadInt32();
                int scalarsAt = (int)reader.BaseStream.Position;
                reader.BaseStream.Position += 4L * o * planes;
                result.Add((name, nameAt, dimAt, (int)reader.BaseStream.Position));
                result.Add((name + " scalars", nameAt, dimAt, scalarsAt));
                reader.BaseStream.Position += (long)planes * o * ((c * k * k + 7) / 8);
                continue;
            }
            int rank = reader.ReadInt32();
            dimAt = (int)reader.BaseStream.Position;
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                elements *= reader.ReadInt64();
            }
            int dataAt = (int)reader.BaseStream.Position;
            reader.BaseStream.Position += elements * (kind == 2 ? 8 : 4);
            result.Add((name, nameAt, dimAt, dataAt));
        }
        return result;
    }

    private static List<(string, int, int, int)> ParseState(byte[] payload, int at)
    {
        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        reader.BaseStream.Position = at;
        long count = reader.Read7BitEncodedInt64();
        var result = new List<(string, int, int, int)>();
        for (int i = 0; i < count; i++)
        {
            int nameAt = (int)reader.BaseStream.Position;
            string name = reader.ReadString();
            long dtype = reader.Read7BitEncodedInt64();
            long rank = reader.Read7BitEncodedInt64();
            int dimAt = (int)reader.BaseStream.Position;
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                elements *= reader.Read7BitEncodedInt64();
            }
            int dataAt = (int)reader.BaseStream.Position;
            reader.BaseStream.Position += elements * (dtype == 6 ? 4 : 8);
            result.Add((name, nameAt, dimAt, dataAt));
        }
        return result;
    }
}
