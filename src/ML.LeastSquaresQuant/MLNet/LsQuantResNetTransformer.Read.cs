using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Training;

namespace ML.LeastSquaresQuant.MLNet;

// Loading: every field of a saved model is checked before anything is allocated from it or built from it.
public sealed partial class LsQuantResNetTransformer
{
    // Called by ML.NET's model loader (see the LoadableClass attribute in MLNetInternals.cs).
    private static LsQuantResNetTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        MLNetInternals.Load(ctx, ModelSignature, FormatVersion, OldestFormatVersion, LoaderSignature, Read);

    private static LsQuantResNetTransformer Read(BinaryReader input, uint version)
    {
        string field = "the column names";
        try
        {
            using var hashing = new HashingReadStream(input.BaseStream);
            // Version 2 adds the checksum and the packed weights; version 1 has neither.
            using var reader = version >= 2 ? new BinaryReader(hashing, System.Text.Encoding.UTF8, leaveOpen: true) : null;
            return Read(reader ?? input, reader is null ? null : hashing, f => field = f);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ArgumentException or JsonException or InvalidOperationException
            or FormatException or OverflowException)
        {
            // Every message names the field; raw text from the file is escaped so binary damage does not reach the message.
            throw new DamagedModelException($"The LsQuantResNet model in this file is damaged ({field}): {ModelText.Printable(ex.Message, 300)}", ex);
        }
    }

    // Fields are validated in file order and each message names the field, so the first damaged one is blamed.
    private static LsQuantResNetTransformer Read(BinaryReader reader, HashingReadStream? checksummed, Action<string> at)
    {
        string features = reader.ReadString(), score = reader.ReadString(), predicted = reader.ReadString();
        at("the image shape");
        int side = ArchitectureLimits.MaxImageSide;
        var shape = new ImageShape(ModelText.ReadInt32(reader, 1, ArchitectureLimits.MaxInputChannels, "the image channel count"),
            ModelText.ReadInt32(reader, 1, side, "the image height"), ModelText.ReadInt32(reader, 1, side, "the image width"));
        if ((long)shape.Channels * shape.Height * shape.Width > int.MaxValue / sizeof(float))
        {
            throw new FormatException($"the image shape {shape} is too large");
        }
        at("the label key values");
        int keyCount = ModelText.ReadInt32(reader, -1, ArchitectureLimits.MaxClasses, "the label key value count");
        string[]? keys = keyCount < 0 ? null : Enumerable.Range(0, keyCount).Select(_ => reader.ReadString()).ToArray();
        at("the normalization");
        int channels = reader.ReadInt32();
        if (channels != shape.Channels)
        {
            // The label key values come just before: a wrong key count shifts this field, so both are named.
            throw new FormatException($"the normalization channel count is {channels} but the images have {shape.Channels} channels: " +
                $"the label key value count ({keyCount}), the key values or the channel count are damaged");
        }
        var mean = ModelText.ReadFinite(reader, channels, "the normalization mean");
        var std = ModelText.ReadFinite(reader, channels, "the normalization standard deviation", above: 0);
        at("the architecture");
        var architecture = NetworkArchitecture.FromJson(reader.ReadString());
        at("the training history");
        var history = JsonSerializer.Deserialize<List<EpochMetrics>>(reader.ReadString()) ?? [];
        at("the weights");
        long stateLength = reader.ReadInt64();
        if (stateLength <= 0 || stateLength > int.MaxValue)
        {
            throw new FormatException($"the weights length is {stateLength}, outside [1, {int.MaxValue}]");
        }
        var state = ModelText.ReadExactly(reader, stateLength, "the weights");
        at("the checksum");
        if (checksummed is not null)
        {
            ModelChecksum.Verify(checksummed, reader);
        }
        at("the architecture");
        if (keys is not null && keys.Length != architecture.NumClasses)
        {
            throw new FormatException($"{keys.Length} label values for {architecture.NumClasses} classes");
        }
        if (architecture.InputChannels != shape.Channels)
        {
            throw new FormatException($"the architecture reads {architecture.InputChannels} channels, the images have {shape.Channels}");
        }
        at("the weights");
        bool packed = checksummed is not null;
        // A packed weight takes at least one bit, a float one 32: the stored bytes bound the network's size either way.
        long storedElements = packed ? state.LongLength * 8 : StateDictCheck.Parse(state).Sum(e => e.Elements);
        ArchitectureLimits.Check(architecture, storedElements);
        var network = architecture.Build();
        try
        {
            if (packed)
            {
                PackedWeightStream.Read(state, network);
            }
            else
            {
                using var stateReader = new BinaryReader(new MemoryStream(state));
                network.load(stateReader, strict: true);
            }
            return new LsQuantResNetTransformer(network, architecture, shape, features, score, predicted, keys, mean, std, history);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}
