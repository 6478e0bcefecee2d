using System;
using System.Globalization;
using System.Linq;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// A child process for the native-robustness tests (see each command's class). Exit code 0 means the command's own
/// check passed; a crash, a hang or a memory cap shows in the parent as a signal, a timeout or an error.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: NativeProbe conv-raw K S IN OUT nchw|nhwc        one plain libtorch convolution vs float64
               NativeProbe conv-sweep raw|guarded [K,…] [quick|full|wide] [SIZE]  every configuration; "bad" lines, exit 1 if any
               NativeProbe networks                             train and score every network shape (NetworkRuns)
               NativeProbe step-gradients IN QUANTIZED WIDTH    float32 vs float64 gradients of one step (StepGradients)
               NativeProbe make-fixture DIR                     a tiny model file and its scores (Fixtures)
               NativeProbe model-size W STAGES C SIZE CLASSES DIR   sizes of a saved ls-2/ls-1 student (ModelSizes)
               NativeProbe load-score C H W MODEL.zip…          load saved models, score one image each (ModelScoring)
               NativeProbe score-images MODEL.zip IMAGE…        score image files through a saved image pipeline
               NativeProbe train-resume DIR EPOCHS              checkpointed training that resumes (ResumableTraining)
               NativeProbe engine-paths                         engine vs float path on this process's vector paths (EnginePaths)
        """;

    public static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        switch (args.FirstOrDefault())
        {
            case "conv-raw" or "conv-guarded" when args.Length is 6 or 7:
            {
                var c = new ConvSweep.Config(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), args[5] == "nhwc");
                var e = ConvSweep.Measure(c, args[0] == "conv-raw" ? Raw : Guarded, size: args.Length == 7 ? int.Parse(args[6]) : 9);
                Console.WriteLine($"{c}: fwd {e.Forward:E2} dx {e.InputGrad:E2} dw {e.WeightGrad:E2} scoring {e.Scoring:E2}");
                return 0;
            }
            case "conv-sweep" when args.Length >= 2:
            {
                bool guarded = args[1] == "guarded";
                var kernels = args.Length > 2 ? args[2].Split(',').Select(int.Parse).ToArray() : [1, 3, 5];
                string set = args.Length > 3 ? args[3] : "quick";
                var channels = set switch { "full" => ConvSweep.Channels, "wide" => ConvSweep.WideChannels, _ => ConvSweep.QuickChannels };
                int size = args.Length > 4 ? int.Parse(args[4]) : 9;
                int bad = 0, total = 0;
                foreach (var c in ConvSweep.All(kernels, channels))
                {
                    var e = ConvSweep.Measure(c, guarded ? Guarded : Raw, size: size);
                    total++;
                    if (!(e.Forward < 1e-4 && e.InputGrad < 1e-4 && e.WeightGrad < 1e-4 && e.Scoring < 1e-4))
                    {
                        bad++;
                        Console.WriteLine($"bad {c}: fwd {e.Forward:E2} dx {e.InputGrad:E2} dw {e.WeightGrad:E2} scoring {e.Scoring:E2}");
                    }
                }
                Console.WriteLine($"{bad} bad of {total}");
                return bad == 0 ? 0 : 1;
            }
            case "make-fixture" when args.Length == 2:
                return Fixtures.Make(args[1]);
            case "model-size" when args.Length == 7:
                return ModelSizes.Measure(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]),
                    int.Parse(args[5]), args[6]);
            case "step-gradients" when args.Length == 4:
                return StepGradients.Run(int.Parse(args[1]), bool.Parse(args[2]), int.Parse(args[3]));
            case "networks":
                return NetworkRuns.Run();
            case "load-score":
                return ModelScoring.LoadScore(args);
            case "score-images":
                return ModelScoring.ScoreImages(args);
            case "train-resume":
                return ResumableTraining.Run(args);
            case "engine-paths":
                return EnginePaths.Run();
            default:
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    private static Tensor Raw(Tensor x, Tensor w, long stride, long padding) =>
        nn.functional.conv2d(x, w, null, [stride, stride], [padding, padding]);

    private static Tensor Guarded(Tensor x, Tensor w, long stride, long padding) =>
        ML.LeastSquaresQuant.Modules.Convolution.Conv2d(x, w, null, stride, padding);
}
