using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Training;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// <c>train-resume DIR EPOCHS</c>: trains a tiny quantized LeNet-5 on synthetic 16×16 images with a checkpoint
/// every epoch in DIR, resuming from DIR's latest checkpoint when there is one, and prints "done" and the SHA-256
/// of the final weights. The kill -9 test kills this process at random points and compares the final hash with an
/// uninterrupted run's.
/// </summary>
internal static class ResumableTraining
{
    /// <summary>Runs the command.</summary>
    /// <param name="args">train-resume DIR EPOCHS.</param>
    /// <returns>0 when training finished.</returns>
    public static int Run(string[] args)
    {
        string directory = args[1];
        int epochs = int.Parse(args[2]);
        const int count = 32, side = 16;
        var labels = Enumerable.Range(0, count).Select(i => i % 2).ToArray();
        var pixels = Enumerable.Range(0, count * side * side).Select(k => (byte)((k / (side * side)) % 2 * 90 + k % 13 * 11)).ToArray();
        using var data = ImageDataset.FromPixels(pixels, labels, 1, side, side, 2);
        manual_seed(1);
        var architecture = new LeNet5Architecture { NumClasses = 2, ImageSize = side, Quantization = LayerQuantization.Parse("ls-2", "ls-1") };
        using var model = architecture.Build();
        string latest = Path.Combine(directory, Checkpoint.LatestFileName);
        string? resume = File.Exists(latest) ? latest : null;
        Console.WriteLine(resume is null ? "start" : "resume");
        TrainingLoop.Run(model, data, null, new TrainingOptions
        {
            Epochs = epochs,
            BatchSize = 8,
            Device = "cpu",
            CheckpointDirectory = directory,
            CheckpointEveryEpochs = 1,
            ResumeFrom = resume,
            LogEveryNSteps = 1000,
        });
        using var state = new MemoryStream();
        using (var writer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            model.save(writer);
        }
        Console.WriteLine("done " + Convert.ToHexString(SHA256.HashData(state.ToArray())));
        return 0;
    }
}
