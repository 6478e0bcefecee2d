using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// A training checkpoint: epochs done, global step, metric history, model state and optimizer state in one file.
/// Written to a temporary file in the same folder and renamed over the old one, so a crash never leaves a
/// half-written file as the latest checkpoint.
/// </summary>
/// <remarks>
/// Format (little-endian): the 8 bytes <c>LSQCKPT1</c>, int32 epochs done, int64 global step, string history JSON,
/// the model's state (TorchSharp <c>Module.save</c>), the optimizer's state (<c>save_state_dict</c>).
/// Shuffling and augmentation are seeded from (seed, epoch), so no random-generator state is needed to resume
/// exactly at an epoch boundary.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The file name of the latest checkpoint inside a checkpoint folder.</summary>
    public const string LatestFileName = "checkpoint-latest.bin";

    private static readonly byte[] Magic = "LSQCKPT1"u8.ToArray();

    internal sealed record State(int EpochsDone, long GlobalStep, List<EpochMetrics> History);

    internal static string Save(string directory, nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer, State state)
    {
        Directory.CreateDirectory(directory);
        string final = Path.Combine(directory, LatestFileName);
        string temp = Path.Combine(directory, $".{LatestFileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(state.EpochsDone);
                writer.Write(state.GlobalStep);
                writer.Write(JsonSerializer.Serialize(state.History));
                model.save(writer);
                optimizer.save_state_dict(writer);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
        return final;
    }

    internal static State Load(string path, nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint file '{path}' does not exist.", path);
        }
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            var magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
            {
                throw new FormatException($"'{path}' is not an ML.LeastSquaresQuant checkpoint.");
            }
            int epochs = reader.ReadInt32();
            long step = reader.ReadInt64();
            var history = JsonSerializer.Deserialize<List<EpochMetrics>>(reader.ReadString()) ?? [];
            model.load(reader, strict: true);
            optimizer.load_state_dict(reader);
            return new State(epochs, step, history);
        }
        catch (Exception ex) when (ex is EndOfStreamException or JsonException or ArgumentException or IOException and not FileNotFoundException)
        {
            throw new FormatException($"Checkpoint '{path}' is damaged or belongs to another model: {ex.Message}", ex);
        }
    }
}
