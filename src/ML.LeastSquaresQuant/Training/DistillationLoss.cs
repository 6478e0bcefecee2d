using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Training;

/// <summary>
/// Knowledge-distillation loss: per sample kd = T²·Σ p·(log p − log q) with p = softmax(teacher/T),
/// q = softmax(student/T); with teacher correction, samples whose teacher prediction is wrong use cross-entropy
/// with the true label instead. The batch loss is the mean.
/// </summary>
/// <remarks>
/// The reference implementation compares the teacher's prediction with itself, so its teacher correction never
/// takes effect; here the teacher's argmax is compared with the true label, as intended.
/// </remarks>
public static class DistillationLoss
{
    /// <summary>Computes the mean batch loss.</summary>
    /// <param name="studentLogits">Student logits [N, C] (with autograd history).</param>
    /// <param name="teacherLogits">Teacher logits [N, C] (treated as constants).</param>
    /// <param name="labels">True labels [N], int64 in [0, C).</param>
    /// <param name="temperature">T &gt; 0.</param>
    /// <param name="teacherCorrection">Use cross-entropy for samples the teacher gets wrong.</param>
    /// <returns>A scalar loss tensor.</returns>
    /// <exception cref="ArgumentException">Shapes disagree or the temperature is not positive.</exception>
    public static Tensor Compute(Tensor studentLogits, Tensor teacherLogits, Tensor labels, double temperature, bool teacherCorrection)
    {
        ArgumentNullException.ThrowIfNull(studentLogits);
        ArgumentNullException.ThrowIfNull(teacherLogits);
        ArgumentNullException.ThrowIfNull(labels);
        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentException($"The distillation temperature must be finite and > 0 but is {temperature}.", nameof(temperature));
        }
        if (studentLogits.dim() != 2 || !studentLogits.shape.AsSpan().SequenceEqual(teacherLogits.shape)
            || labels.dim() != 1 || labels.shape[0] != studentLogits.shape[0])
        {
            throw new ArgumentException(
                $"Student logits [{string.Join(", ", studentLogits.shape)}], teacher logits [{string.Join(", ", teacherLogits.shape)}] " +
                $"and labels [{string.Join(", ", labels.shape)}] must be [N, C], [N, C] and [N].");
        }
        using var scope = NewDisposeScope();
        var teacher = teacherLogits.detach();
        var logP = nn.functional.log_softmax(teacher / temperature, 1);
        var logQ = nn.functional.log_softmax(studentLogits / temperature, 1);
        var kd = (logP.exp() * (logP - logQ)).sum(1) * (temperature * temperature);
        if (!teacherCorrection)
        {
            return kd.mean().MoveToOuterDisposeScope();
        }
        var ce = nn.functional.cross_entropy(studentLogits, labels, reduction: nn.Reduction.None);
        var teacherRight = teacher.argmax(1).eq(labels);
        return torch.where(teacherRight, kd, ce).mean().MoveToOuterDisposeScope();
    }
}
