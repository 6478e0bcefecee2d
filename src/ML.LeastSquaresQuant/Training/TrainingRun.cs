using System;
using System.Collections.Generic;
using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// One call of <see cref="TrainingLoop.Run"/>, in three parts: <see cref="Start"/> (device, teacher, optimizer and
/// resume), <see cref="TrainEpoch"/> (the batches of one epoch) and <see cref="FinishEpoch"/> (validation, metrics,
/// checkpoint and the end-of-epoch report). It holds what the parts share: the step counters and the history.
/// </summary>
internal sealed class TrainingRun
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly nn.Module<Tensor, Tensor>? _teacher;
    private readonly ImageDataset _train;
    private readonly ImageDataset? _validation;
    private readonly TrainingOptions _options;
    private readonly OptimizerHelper _optimizer;
    private readonly List<EpochMetrics> _history = [];
    private readonly Stopwatch _total = new();
    private readonly long _stepsLeft; // steps this call will run, for the time-left estimate
    private long _globalStep;
    private long _stepsDoneThisRun;
    private string? _checkpointPath;

    /// <summary>What one epoch's batches measured, before validation.</summary>
    /// <param name="Loss">Mean training loss over the epoch's images.</param>
    /// <param name="Top1">Fraction of training images whose label had the highest logit.</param>
    /// <param name="Top5">Fraction of training images whose label was among the five highest logits.</param>
    /// <param name="Seen">Training images used (a trailing single image is dropped).</param>
    /// <param name="LearningRate">The rate of the epoch's last batch.</param>
    /// <param name="Seconds">Wall time of the epoch's batches.</param>
    internal readonly record struct EpochTotals(double Loss, double Top1, double Top5, long Seen, double LearningRate, double Seconds);

    private TrainingRun(nn.Module<Tensor, Tensor> model, ImageDataset train, ImageDataset? validation, TrainingOptions options,
        Device device, OptimizerHelper optimizer, int startEpoch)
    {
        _model = model;
        _teacher = options.Teacher;
        _train = train;
        _validation = validation;
        _options = options;
        _optimizer = optimizer;
        Device = device;
        StartEpoch = startEpoch;
        long n = train.Count;
        // A trailing batch of one image cannot be batch-normalized in training mode; it is dropped.
        StepsPerEpoch = (int)(n / options.BatchSize + (n % options.BatchSize >= 2 ? 1 : 0));
        _stepsLeft = (long)(options.Epochs - startEpoch) * StepsPerEpoch;
    }

    /// <summary>Where training runs.</summary>
    internal Device Device { get; }

    /// <summary>Epochs already done before this call (from a checkpoint), so training continues at the next one.</summary>
    internal int StartEpoch { get; }

    /// <summary>Batches in one epoch.</summary>
    internal int StepsPerEpoch { get; }

    /// <summary>Moves model, data and teacher to the device, freezes the teacher, builds the optimizer and resumes.</summary>
    internal static TrainingRun Start(nn.Module<Tensor, Tensor> model, ImageDataset train, ImageDataset? validation, TrainingOptions options)
    {
        var device = DeviceSelector.Resolve(options.Device, options.FallbackToCpu);
        NativeAllocator.Tune();
        model.to(device);
        train.MoveTo(device);
        validation?.MoveTo(device);
        var teacher = options.Teacher;
        if (teacher is not null)
        {
            teacher.to(device);
            foreach (var p in teacher.parameters())
            {
                p.requires_grad = false;
            }
        }
        TrainingLoop.CheckOutputs(model, train, "model");
        if (teacher is not null)
        {
            TrainingLoop.CheckOutputs(teacher, train, "teacher");
        }

        var optimizer = options.Optimizer.Create(model.parameters());
        Checkpoint.State? state = null;
        if (options.ResumeFrom is not null)
        {
            state = Checkpoint.Load(options.ResumeFrom, model, optimizer);
            model.to(device);
        }
        var run = new TrainingRun(model, train, validation, options, device, optimizer, state?.EpochsDone ?? 0);
        if (state is not null)
        {
            run._globalStep = state.GlobalStep;
            run._history.AddRange(state.History);
        }
        run._total.Start();
        return run;
    }

    /// <summary>Trains one epoch (numbered from 1) and returns its training metrics.</summary>
    internal EpochTotals TrainEpoch(int epoch)
    {
        var options = _options;
        options.CancellationToken.ThrowIfCancellationRequested();
        _model.train();
        _teacher?.train(options.TeacherBatchNorm == TeacherBatchNormMode.BatchStatistics);

        // Shuffling and augmentation depend only on (seed, epoch), which is what makes resume exact.
        using var generator = new Generator((ulong)(options.Seed * 1_000_003L + epoch));
        using var permutation = torch.randperm(_train.Count, generator: generator).to(Device);
        using var lossSum = torch.zeros(1, dtype: ScalarType.Float64, device: Device);
        using var correct1 = torch.zeros(1, dtype: ScalarType.Int64, device: Device);
        using var correct5 = torch.zeros(1, dtype: ScalarType.Int64, device: Device);
        long seen = 0;
        double learningRate = 0;
        var clock = Stopwatch.StartNew();
        for (int step = 0; step < StepsPerEpoch; step++)
        {
            options.CancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            learningRate = options.Optimizer.LearningRate * options.Schedule.FactorAt(_globalStep, StepsPerEpoch, options.Epochs);
            foreach (var group in _optimizer.ParamGroups)
            {
                group.LearningRate = learningRate;
            }
            long start = (long)step * options.BatchSize;
            var indices = permutation.narrow(0, start, Math.Min(options.BatchSize, _train.Count - start));
            var x = options.Augmentation.Apply(_train.ImagesAt(indices), generator);
            var y = _train.Labels.index_select(0, indices);

            var (logits, loss) = TrainingLoop.Step(_model, _optimizer, x, y, _teacher, options.DistillationTemperature, options.TeacherCorrection);

            using (torch.no_grad())
            {
                long b = y.shape[0];
                lossSum.add_(loss.detach().to_type(ScalarType.Float64) * b);
                correct1.add_(TrainingLoop.CorrectInTopK(logits, y, 1));
                correct5.add_(TrainingLoop.CorrectInTopK(logits, y, 5));
                seen += b;
            }
            _globalStep++;
            _stepsDoneThisRun++;

            if ((step + 1) % options.LogEveryNSteps == 0 && options.Progress is not null)
            {
                // Reading the loss synchronises with the device, which is why it happens only at reports.
                double value = loss.item<float>();
                TrainingLoop.ThrowIfNotFinite(value, epoch, step + 1, learningRate);
                options.Progress(new TrainingProgress(epoch, step + 1, StepsPerEpoch, value, learningRate,
                    seen / clock.Elapsed.TotalSeconds, Remaining(), null));
            }
        }
        double trainLoss = lossSum.item<double>() / seen;
        TrainingLoop.ThrowIfNotFinite(trainLoss, epoch, StepsPerEpoch, learningRate);
        double seconds = clock.Elapsed.TotalSeconds;
        return new EpochTotals(trainLoss, correct1.item<long>() / (double)seen, correct5.item<long>() / (double)seen,
            seen, learningRate, seconds);
    }

    /// <summary>Validates, records the epoch's metrics, writes a checkpoint when one is due and reports the epoch.</summary>
    internal void FinishEpoch(int epoch, EpochTotals t)
    {
        (double Loss, double Top1, double Top5)? valid = _validation is null
            ? null
            : TrainingLoop.Evaluate(_model, _validation, _options.Augmentation, _options.BatchSize);
        var metrics = new EpochMetrics(epoch, t.Loss, t.Top1, t.Top5, valid?.Loss, valid?.Top1, valid?.Top5,
            t.LearningRate, t.Seconds, t.Seen / t.Seconds);
        _history.Add(metrics);
        if (_options.CheckpointDirectory is not null && (epoch % _options.CheckpointEveryEpochs == 0 || epoch == _options.Epochs))
        {
            _checkpointPath = Checkpoint.Save(_options.CheckpointDirectory, _model, _optimizer,
                new Checkpoint.State(epoch, _globalStep, _history));
        }
        _options.Progress?.Invoke(new TrainingProgress(epoch, StepsPerEpoch, StepsPerEpoch, t.Loss, t.LearningRate,
            t.Seen / t.Seconds, Remaining(), metrics));
    }

    /// <summary>The history (restored epochs included), the device and the latest checkpoint.</summary>
    internal TrainingResult Result() => new(_history, Device, _checkpointPath);

    /// <summary>Time left at the average speed of this call's steps so far.</summary>
    private TimeSpan Remaining() =>
        TimeSpan.FromSeconds(_total.Elapsed.TotalSeconds / _stepsDoneThisRun * (_stepsLeft - _stepsDoneThisRun));
}
