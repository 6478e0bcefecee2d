using System;
using System.Collections.Generic;
using System.Linq;
using ML.LeastSquaresQuant.Inference;
using ML.LeastSquaresQuant.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Models;

/// <summary>The quantized ResNet described by a <see cref="QResNetArchitecture"/>; outputs class logits.</summary>
public sealed class QResNet : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> stem;
    private readonly nn.Module<Tensor, Tensor> stages;
    private readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds the network with fresh weights.</summary>
    /// <param name="architecture">The description (validated here).</param>
    public QResNet(QResNetArchitecture architecture) : base(nameof(QResNet))
    {
        ArgumentNullException.ThrowIfNull(architecture);
        architecture.Validate();
        Architecture = architecture;
        int w = architecture.Width;

        stem = architecture.Stem == StemKind.Cifar
            ? nn.Sequential(
                ("conv", new Conv2dLayer(architecture.InputChannels, w, 3, stride: 1, padding: 1, bias: false)),
                ("bn", nn.BatchNorm2d(w)),
                ("relu", nn.ReLU()))
            : nn.Sequential(
                ("conv", new Conv2dLayer(architecture.InputChannels, w, 7, stride: 2, padding: 3, bias: false)),
                ("bn", nn.BatchNorm2d(w)),
                ("relu", nn.ReLU()),
                ("pool", nn.MaxPool2d(3, 2, 1)));

        var stageModules = new List<(string, nn.Module<Tensor, Tensor>)>();
        long inChannels = w;
        for (int s = 0; s < architecture.StageCount; s++)
        {
            long outChannels = (long)w << s;
            var quantization = architecture.QuantizationOf(s);
            var blocks = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int b = 0; b < architecture.BlocksPerStage[s]; b++)
            {
                long stride = b == 0 && s > 0 ? 2 : 1;
                nn.Module<Tensor, Tensor> block = architecture.Block == BlockKind.Regular
                    ? new RegularBlock(inChannels, outChannels, stride, quantization, architecture.Nonlinearity)
                    : new XnorBlock(inChannels, outChannels, stride, quantization, architecture.Nonlinearity, architecture.DoubleShortcut);
                blocks.Add(($"block{b}", block));
                inChannels = outChannels;
            }
            stageModules.Add(($"layer{s + 1}", nn.Sequential(blocks)));
        }
        stages = nn.Sequential(stageModules);
        head = nn.Sequential(
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(inChannels, architecture.NumClasses)));
        RegisterComponents();
    }

    private QResNetEngine? _engine;

    /// <summary>
    /// Scores evaluation-mode, gradient-free CPU passes with every block fused on the binary engine when every block
    /// has one (call after the blocks' own UseBinaryEngine); otherwise, or with <paramref name="on"/> false, the
    /// modules run one after another.
    /// </summary>
    internal void UseBinaryEngine(bool on)
    {
        _engine = null;
        var blocks = stages.modules().Where(m => m is RegularBlock or XnorBlock).ToList();
        bool fusable = blocks.Count > 0 && blocks.All(m => m is XnorBlock { Fusable: true });
        // Both ways the stem's convolution takes the same C# arithmetic, so the engine and the float path agree.
        foreach (var conv in stem.modules().OfType<Conv2dLayer>())
        {
            conv.UseCpuKernel(fusable);
        }
        _cpuHead = fusable ? CpuHead() : null;
        if (on && fusable && _cpuHead is not null && blocks.All(b => b is XnorBlock { Engine: not null }))
        {
            _engine = new QResNetEngine(stem.children().Cast<nn.Module<Tensor, Tensor>>().ToList(),
                blocks.Select(b => ((XnorBlock)b).Engine!).ToList(), _cpuHead);
        }
    }

    private GlobalPoolLinear? _cpuHead;

    /// <summary>The bytes the C# head's copy of the classifier holds (0 without one).</summary>
    internal long CpuHeadBytes => _cpuHead?.HeldBytes ?? 0;

    /// <summary>The head (global average pool, fully connected layer) as a C# kernel: the arithmetic of a network
    /// scored on the binary engine, which the float path then shares.</summary>
    private GlobalPoolLinear? CpuHead()
    {
        if (head.children().LastOrDefault() is not TorchSharp.Modules.Linear fc)
        {
            return null;
        }
        var weight = fc.weight!;
        return new GlobalPoolLinear(TensorCopy.ToFloatArray(weight), fc.bias is null ? [] : TensorCopy.ToFloatArray(fc.bias),
            checked((int)weight.shape[0]), checked((int)weight.shape[1]));
    }

    /// <summary>The description this network was built from.</summary>
    public QResNetArchitecture Architecture { get; }

    /// <summary>Computes class logits.</summary>
    /// <param name="x">Images [N, InputChannels, H, W] (H, W ≥ 1; 32×32 for the CIFAR stem).</param>
    /// <returns>Logits [N, NumClasses].</returns>
    /// <exception cref="ArgumentException">The input's rank or channel count is wrong.</exception>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4 || x.shape[1] != Architecture.InputChannels)
        {
            throw new ArgumentException(
                $"QResNet expects images [N, {Architecture.InputChannels}, H, W] but got [{string.Join(", ", x.shape)}].", nameof(x));
        }
        if (_engine is not null && !training && x.device_type == TorchSharp.DeviceType.CPU && x.dtype == ScalarType.Float32
            && !is_grad_enabled())
        {
            return _engine.Forward(x);
        }
        using var scope = NewDisposeScope();
        if (x.device_type != TorchSharp.DeviceType.CPU)
        {
            return head.call(stages.call(stem.call(x))).MoveToOuterDisposeScope();
        }
        // The stem's output is converted too: with one input channel both layouts are the same memory, and
        // libtorch may then pick NCHW for everything after the stem.
        var features = stages.call(ChannelsLast.Convert(stem.call(ChannelsLast.Convert(x))));
        if (_cpuHead is not null && !training && x.dtype == ScalarType.Float32 && !is_grad_enabled())
        {
            return QResNetEngine.Classify(_cpuHead, features).MoveToOuterDisposeScope();
        }
        return head.call(features).MoveToOuterDisposeScope();
    }
}
