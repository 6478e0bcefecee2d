using System;
using System.Globalization;
using System.Linq;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// Usage: NativeProbe conv-raw K S IN OUT nchw|nhwc — one plain libtorch convolution;
/// NativeProbe conv-sweep raw|guarded [K,K…] — every configuration, one line each, "bad" where an error ≥ 1e-3;
/// NativeProbe load-score C H W MODEL.zip… — load saved models and score one synthetic image each (see <see cref="ModelScoring"/>);
/// NativeProbe score-images MODEL.zip IMAGE… — score image files through a saved image pipeline;
/// NativeProbe train-resume DIR EPOCHS — checkpointed training that resumes from DIR (see <see cref="ResumableTraining"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        set_num_threads(2);
        switch (args.FirstOrDefault())
        {
            case "conv-raw":
            {
                var c = new ConvSweep.Config(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), args[5] == "nhwc");
                if (Environment.GetEnvironmentVariable("PROBE_SKIP_MEASURE") != "1")
                {
                var e = ConvSweep.Measure(c, Raw);
                Console.WriteLine($"{c}: fwd {e.Forward:E2} dx {e.InputGrad:E2} dw {e.WeightGrad:E2}");
                }
                using (var x = randn(2, c.InChannels, 11, 11, dtype: ScalarType.Float64))
                using (var w = randn(c.OutChannels, c.InChannels, c.Kernel, c.Kernel, dtype: ScalarType.Float64))
                using (var y64 = Raw(x, w, c.Stride, c.Kernel / 2))
                using (var x32 = x.to_type(ScalarType.Float32))
                using (var w32 = w.to_type(ScalarType.Float32))
                using (var y32 = Raw(x32, w32, c.Stride, c.Kernel / 2))
                using (var x32g = x32.detach().requires_grad_(true))
                using (var y32g = Raw(x32g, w32, c.Stride, c.Kernel / 2))
                {
                    using var cols = nn.functional.unfold(x, c.Kernel, 1, c.Kernel / 2, c.Stride);
                    using var yu = w.reshape(c.OutChannels, -1).matmul(cols).reshape(y64.shape);
                    Console.WriteLine($"  unfold vs f64 conv {(yu - y64).abs().max().item<double>():E2}, unfold vs f32 conv {(y32.to_type(ScalarType.Float64) - yu).abs().max().item<double>():E2}");
                    Console.WriteLine($"  plain fwd err {(y32.to_type(ScalarType.Float64) - y64).abs().max().item<double>():E2}, with grad {(y32g.detach().to_type(ScalarType.Float64) - y64).abs().max().item<double>():E2} scale {y64.abs().max().item<double>():E2}");
                }
                return 0;
            }
            case "conv-sweep":
            {
                bool guarded = args[1] == "guarded";
                var kernels = args.Length > 2 ? args[2].Split(',').Select(int.Parse).ToArray() : new[] { 1, 3, 5 };
                int bad = 0, total = 0;
                foreach (var c in ConvSweep.All(kernels))
                {
                    var e = ConvSweep.Measure(c, guarded ? Guarded : Raw);
                    total++;
                    if (!(e.Forward < 1e-3 && e.InputGrad < 1e-3 && e.WeightGrad < 1e-3))
                    {
                        bad++;
                        Console.WriteLine($"bad {c}: fwd {e.Forward:E2} dx {e.InputGrad:E2} dw {e.WeightGrad:E2}");
                    }
                }
                Console.WriteLine($"{bad} bad of {total}");
                return bad == 0 ? 0 : 1;
            }
            case "load-score":
                return ModelScoring.LoadScore(args);
            case "score-images":
                return ModelScoring.ScoreImages(args);
            case "train-resume":
                return ResumableTraining.Run(args);
            default:
                Console.Error.WriteLine("usage: NativeProbe conv-raw K S IN OUT nchw|nhwc | conv-sweep raw|guarded [K,…] | load-score C H W MODEL.zip… | score-images MODEL.zip IMAGE… | train-resume DIR EPOCHS");
                return 2;
        }
    }

    private static Tensor Raw(Tensor x, Tensor w, long stride, long padding) =>
        nn.functional.conv2d(x, w, null, [stride, stride], [padding, padding]);

    private static Tensor Guarded(Tensor x, Tensor w, long stride, long padding) =>
        ML.LeastSquaresQuant.Modules.Convolution.Conv2d(x, w, null, stride, padding);
}
