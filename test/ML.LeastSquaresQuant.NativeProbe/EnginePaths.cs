using System;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.NativeProbe;

/// <summary>
/// <c>engine-paths</c>: scores small xnor ResNets (every layer on the engine) with the fused engine and with the float
/// path and requires bit-identical logits. The parent runs it with the JIT's AVX-512 or AVX2 support switched off,
/// so the engine's own vector code (batch norm, packing, epilogue, combination and the kernel chosen at run time)
/// takes each of its paths on one machine; it also prints the logits' checksum, which must not depend on the path.
/// </summary>
internal static class EnginePaths
{
    public static int Run()
    {
        BinaryConvolution.MinInputChannels = 1;
        Console.WriteLine($"Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}, " +
            $"Avx2 {Avx2.IsSupported}, kernel {BinaryKernels.Best}");
        int failures = 0;
        double checksum = 0;
        foreach (var (activation, weight, nonlinearity, width) in new[]
        {
            ("ls-2", "ls-1", Nonlinearity.ReLU, 70), ("ls-T", "ls-2", Nonlinearity.PReLU, 9), ("gf-3", "ls-T", Nonlinearity.Identity, 17),
            // Words of 24, 48 and 64 + 32 channels: the 8- and 16-channel packing registers of the AVX2 and AVX-512 paths.
            ("ls-2", "ls-1", Nonlinearity.ReLU, 24),
        })
        {
            using var scope = NewDisposeScope();
            manual_seed(7);
            var quantization = LayerQuantization.Parse(activation, weight, ActivationClamp.Symmetric(2));
            var net = new QResNetArchitecture
            {
                Block = BlockKind.Xnor, DoubleShortcut = true, Nonlinearity = nonlinearity, Width = width, BlocksPerStage = [1, 1, 1],
                InputChannels = 3, NumClasses = 5, StageQuantization = Enumerable.Repeat(quantization, 3).ToArray(),
            }.Build();
            net.train();
            using (no_grad())
            {
                net.call(randn(6, 3, 11, 11));
            }
            net.eval();
            foreach (var conv in net.modules().OfType<QuantConv2d>())
            {
                conv.FreezeWeights();
            }
            var images = randn(3, 3, 11, 11) * 2;
            using var noGrad = no_grad();
            BinaryEngine.Use(net, true);
            var engine = net.call(images).detach();
            BinaryEngine.Use(net, false);
            var floatPath = net.call(images).detach();
            bool same = engine.eq(floatPath).all().item<bool>();
            checksum += engine.to_type(ScalarType.Float64).sum().item<double>();
            Console.WriteLine($"{activation}/{weight} {nonlinearity} width {width}: engine vs float path {(same ? "identical" : "DIFFERENT")}");
            failures += same ? 0 : 1;
        }
        Console.WriteLine($"checksum {checksum:R}");
        return failures == 0 ? 0 : 1;
    }
}
