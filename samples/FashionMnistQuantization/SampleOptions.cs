using System;
using System.Globalization;

namespace ML.LeastSquaresQuant.Samples;

/// <summary>The sample's budget; the defaults finish in under 10 minutes on 2 CPU cores.</summary>
internal sealed record SampleOptions
{
    public int TrainImages { get; init; } = 8000;
    public int TestImages { get; init; } = 2000;
    public int TeacherEpochs { get; init; } = 4;
    public int StudentEpochs { get; init; } = 4;
    public int Width { get; init; } = 16;
    public bool FourthStage { get; init; }
    public int BatchSize { get; init; } = 64;
    public string? Device { get; init; }
    public string DataFolder { get; init; } = Data.FashionMnist.DefaultFolder;
    public string OutputFolder { get; init; } = "fashion-mnist-output";

    public const string Usage =
        "usage: FashionMnistQuantization [--train N] [--test N] [--teacher-epochs N] [--student-epochs N] [--width N]\n" +
        "       [--fourth-stage] [--batch N] [--device cpu|cuda|cuda:N] [--data FOLDER] [--output FOLDER]\n" +
        "GPU scale (the paper's architecture): --train 60000 --test 10000 --width 64 --fourth-stage --batch 128\n" +
        "       --teacher-epochs 10 --student-epochs 10 --device cuda";

    public static SampleOptions Parse(string[] args)
    {
        var o = new SampleOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.\n{Usage}");
            int Int() { var text = Next(); return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"'{text}' is not a positive number.\n{Usage}"); }
            o = args[i] switch
            {
                "--train" => o with { TrainImages = Int() },
                "--test" => o with { TestImages = Int() },
                "--teacher-epochs" => o with { TeacherEpochs = Int() },
                "--student-epochs" => o with { StudentEpochs = Int() },
                "--width" => o with { Width = Int() },
                "--fourth-stage" => o with { FourthStage = true },
                "--batch" => o with { BatchSize = Int() },
                "--device" => o with { Device = Next() },
                "--data" => o with { DataFolder = Next() },
                "--output" => o with { OutputFolder = Next() },
                "--help" or "-h" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"Unknown option '{args[i]}'.\n{Usage}"),
            };
        }
        return o;
    }
}
