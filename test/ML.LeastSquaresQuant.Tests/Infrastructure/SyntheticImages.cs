using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Images of distinct per-class patterns plus noise: learnable, but not by a constant predictor.</summary>
internal static class SyntheticImages
{
    public static ImageDataset Make(int count, int classes, int channels, int size, int seed, double noise = 0.3)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var templates = torch.rand([classes, channels, size, size], generator: generator);
        var labels = torch.arange(count, dtype: ScalarType.Int64) % classes;
        var images = templates.index_select(0, labels) + torch.randn([count, channels, size, size], generator: generator) * noise;
        return new ImageDataset(images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(), classes);
    }
}
