using System;
using ML.LeastSquaresQuant.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// The training loop: shuffled batches from an on-device <see cref="ImageDataset"/>, augmentation on the device,
/// cross-entropy or knowledge distillation, an optimizer and a per-batch learning-rate schedule, metrics per epoch,
/// atomic checkpoints and exact resume. The loss is read back to the host only every
/// <see cref="TrainingOptions.LogEveryNSteps"/> batches and at the end of each epoch.
/// </summary>
public static class TrainingLoop
{
    /// <summary>Trains <paramref name="model"/> in place.</summary>
    /// <param name="model">A network that maps [N, C, H, W] images to [N, classes] logits.</param>
    /// <param name="train">Training data (moved to the training device).</param>
    /// <param name="validation">Optional validation data (moved to the training device).</param>
    /// <param name="options">Epochs, batch size, optimizer, schedule, teacher, checkpoints and reporting.</param>
    /// <returns>The metric history and where training ran.</returns>
    /// <exception cref="ArgumentException">Data, model and options do not fit together (the message names what).</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException">Cancelled through <see cref="TrainingOptions.CancellationToken"/>.</exception>
    public static TrainingResult Run(nn.Module<Tensor, Tensor> model, ImageDataset train, ImageDataset? validation, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.Augmentation.Validate(train.Channels);
        if (train.Count < 2)
        {
            throw new ArgumentException($"Training needs at least 2 images (batch normalization) but the data set has {train.Count}.", nameof(train));
        }
        if (validation is not null && (validation.Channels != train.Channels || validation.NumClasses != train.NumClasses))
        {
            throw new ArgumentException(
                $"Validation data ({validation.Channels} channels, {validation.NumClasses} classes) does not match the training data " +
                $"({train.Channels} channels, {train.NumClasses} classes).", nameof(validation));
        }

        var run = TrainingRun.Start(model, train, validation, options);
        for (int epoch = run.StartEpoch + 1; epoch <= options.Epochs; epoch++)
        {
            run.FinishEpoch(epoch, run.TrainEpoch(epoch));
        }
        model.eval();
        return run.Result();
    }

    /// <summary>
    /// One optimization step: forward, cross-entropy (or the KD loss against <paramref name="teacher"/>), backward,
    /// optimizer step. Returns the logits and the loss, in the caller's dispose scope.
    /// </summary>
    internal static (Tensor Logits, Tensor Loss) Step(nn.Module<Tensor, Tensor> model, OptimizerHelper optimizer, Tensor x, Tensor y,
        nn.Module<Tensor, Tensor>? teacher, double temperature, bool teacherCorrection)
    {
        optimizer.zero_grad();
        var logits = model.call(x);
        Tensor loss;
        if (teacher is null)
        {
            loss = nn.functional.cross_entropy(logits, y);
        }
        else
        {
            Tensor teacherLogits;
            using (torch.no_grad())
            {
                teacherLogits = teacher.call(x);
            }
            loss = DistillationLoss.Compute(logits, teacherLogits, y, temperature, teacherCorrection);
        }
        loss.backward();
        optimizer.step();
        return (logits, loss);
    }

    /// <summary>Cross-entropy, top-1 and top-5 accuracy of <paramref name="model"/> on <paramref name="data"/> in evaluation mode.</summary>
    /// <param name="model">The network.</param>
    /// <param name="data">The data (on the model's device).</param>
    /// <param name="augmentation">Only its normalization is applied.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <returns>Mean loss, top-1 and top-5 accuracy.</returns>
    public static (double Loss, double Top1, double Top5) Evaluate(nn.Module<Tensor, Tensor> model, ImageDataset data,
        AugmentationOptions augmentation, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(augmentation);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        NativeAllocator.Tune();
        bool wasTraining = model.training;
        model.eval();
        using var noGrad = torch.no_grad();
        var device = data.Images.device;
        using var lossSum = torch.zeros(1, dtype: ScalarType.Float64, device: device);
        using var correct1 = torch.zeros(1, dtype: ScalarType.Int64, device: device);
        using var correct5 = torch.zeros(1, dtype: ScalarType.Int64, device: device);
        for (long start = 0; start < data.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long b = Math.Min(batchSize, data.Count - start);
            var indices = torch.arange(start, start + b, dtype: ScalarType.Int64, device: device);
            var logits = model.call(augmentation.Apply(data.ImagesAt(indices), generator: null));
            var y = data.Labels.index_select(0, indices);
            lossSum.add_(nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64));
            correct1.add_(CorrectInTopK(logits, y, 1));
            correct5.add_(CorrectInTopK(logits, y, 5));
        }
        model.train(wasTraining);
        double count = data.Count;
        return (lossSum.item<double>() / count, correct1.item<long>() / count, correct5.item<long>() / count);
    }

    internal static Tensor CorrectInTopK(Tensor logits, Tensor labels, int k)
    {
        int kk = (int)Math.Min(k, logits.shape[1]);
        var (values, top) = logits.topk(kk, 1);
        using var v = values;
        using var t = top;
        using var expected = labels.unsqueeze(1);
        using var hit = top.eq(expected);
        using var any = hit.any(1);
        return any.sum();
    }

    /// <summary>
    /// Runs two images through <paramref name="network"/> and throws <see cref="ArgumentException"/> when it rejects
    /// the data's image shape or does not output one logit per class.
    /// </summary>
    internal static void CheckOutputs(nn.Module<Tensor, Tensor> network, ImageDataset data, string role)
    {
        bool wasTraining = network.training;
        network.eval();
        long[] outputShape;
        string outputText;
        long images;
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = torch.no_grad();
            var probe = data.ImagesAt(torch.arange(0, Math.Min(2, data.Count), dtype: ScalarType.Int64, device: data.Images.device));
            images = probe.shape[0];
            var logits = network.call(probe);
            outputShape = logits.shape;
            outputText = TensorGuard.Shape(logits);
        }
        catch (ArgumentException ex)
        {
            // Only the forward pass is inside the try, so whatever it throws is the network rejecting the images.
            throw new ArgumentException(
                $"The {role} does not accept the data's images [{data.Channels}, {data.Height}, {data.Width}]: {ex.Message}", ex);
        }
        finally
        {
            network.train(wasTraining);
        }
        if (outputShape.Length != 2 || outputShape[1] != data.NumClasses)
        {
            throw new ArgumentException(
                $"The {role} outputs {outputText} for {images} images but the data has {data.NumClasses} classes.");
        }
    }

    internal static void ThrowIfNotFinite(double loss, int epoch, int step, double learningRate)
    {
        if (!double.IsFinite(loss))
        {
            throw new InvalidOperationException(
                $"Training diverged: the loss is {loss} at epoch {epoch}, batch {step} (learning rate {learningRate:G4}). " +
                "Lower the learning rate or check the input data for NaN values.");
        }
    }
}
