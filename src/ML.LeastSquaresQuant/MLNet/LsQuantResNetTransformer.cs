using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using ML.LeastSquaresQuant.Models;
using ML.LeastSquaresQuant.Modules;
using ML.LeastSquaresQuant.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// A fitted quantized image classifier: adds <c>Score</c> (class probabilities, slot names from the label's key
/// values) and <c>PredictedLabel</c> (a key type carrying the label's key values) to rows with an image features
/// column. Produced by <see cref="LsQuantResNetTrainer"/>; saved and loaded with <c>mlContext.Model.Save/Load</c>.
/// </summary>
/// <remarks>
/// <para>Scoring runs on the CPU, one row at a time, and is safe from several threads (the network is only read).
/// A features row holding fewer or more values than the image shape throws <see cref="InvalidOperationException"/>.</para>
/// <para>Loading checks every field before allocating or building anything (limits in <c>ArchitectureLimits</c>:
/// widths ≤ 4096, blocks per stage ≤ 64, classes ≤ 100000, channels ≤ 4096, image sides ≤ 4096; finite weights,
/// normalization and quantizer scalars; batch-norm variances ≥ 0; weights whose count matches the architecture)
/// and, from format version 2 on, a SHA-256 of the stored data. A damaged file gives a
/// <see cref="DamagedModelException"/> (a <see cref="FormatException"/>) naming the field: wrapped in
/// <see cref="System.Reflection.TargetInvocationException"/> by <c>mlContext.Model.Load</c>, unwrapped by
/// <see cref="LsQuantModelLoading.LoadLsQuantModel(ModelOperationsCatalog, string, out DataViewSchema)"/>.</para>
/// </remarks>
public sealed partial class LsQuantResNetTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "LsQuantResNetTransformer";
    private const string ModelSignature = "LSQRESNT";
    // Version 1: TorchSharp's state dictionary of float32 tensors. Version 2: quantized convolution weights as
    // bit-planes (PackedWeightStream) and the whole payload followed by its SHA-256 (ML.NET's zip reader does not check
    // entry CRCs, so a flipped byte would otherwise load with changed scores). docs/model-format.md.
    private const uint FormatVersion = 2;
    private const uint OldestFormatVersion = 1;

    private readonly nn.Module<Tensor, Tensor> _network;
    private readonly double[] _mean, _std;

    internal LsQuantResNetTransformer(nn.Module<Tensor, Tensor> network, NetworkArchitecture architecture, ImageShape shape,
        string featureColumnName, string scoreColumnName, string predictedLabelColumnName, string[]? labelKeyValues,
        double[] mean, double[] std, IReadOnlyList<EpochMetrics> history)
    {
        // No NativeAllocator.Tune() here: it changes glibc's allocator for the whole host process, which a library
        // must not do behind its host's back; programs opt in (the CLI and the sample do).
        _network = network;
        _network.to(CPU);
        _network.eval();
        // The transformer only scores: its quantized weights are reconstructed once, not per image.
        // Layers the engine supports keep only their packed planes: the engine and the float path both score from
        // them, so the float32 copies would only take memory (docs/inference.md).
        foreach (var conv in _network.modules().OfType<QuantConv2d>())
        {
            conv.FreezeWeights();
            conv.ReleaseFloatWeights();
        }
        UseBinaryEngine = true;
        Architecture = architecture;
        Shape = shape;
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        LabelKeyValues = labelKeyValues;
        _mean = mean;
        _std = std;
        TrainingHistory = history;
        Size = ModelSize.Measure(network);
    }

    /// <summary>
    /// Whether quantized convolutions (both schemes quantized, at least 16 input channels) score on the binary engine:
    /// bit-planes, XOR and popcount, with whole xnor ResNets fused into one pass (docs/inference.md). True by default;
    /// false scores the same layers with libtorch matrix products of the sign planes in the engine's arithmetic, a
    /// much slower reference that gives bit-identical scores. Narrower quantized layers use float convolutions of the
    /// reconstructed tensors either way. Change it only while nothing is scoring.
    /// </summary>
    public bool UseBinaryEngine
    {
        get => _useBinaryEngine;
        set
        {
            BinaryEngine.Use(_network, value);
            _useBinaryEngine = value;
        }
    }

    private bool _useBinaryEngine;

    /// <summary>The network's description (rebuild it with <see cref="NetworkArchitecture.Build"/>).</summary>
    public NetworkArchitecture Architecture { get; }

    /// <summary>The activation and weight scheme (and clamp) of each stage.</summary>
    public IReadOnlyList<LayerQuantization> StageQuantization =>
        Architecture is QResNetArchitecture q ? Enumerable.Range(0, q.StageCount).Select(q.QuantizationOf).ToArray() : [];

    /// <summary>Metrics per training epoch (also after loading a saved model).</summary>
    public IReadOnlyList<EpochMetrics> TrainingHistory { get; }

    /// <summary>Model size with float32 weights and with quantized weights stored as bits.</summary>
    public ModelSize Size { get; }

    /// <summary>Number of classes.</summary>
    public int NumClasses => Architecture.NumClasses;

    /// <summary>The label's key values (as text), or <see langword="null"/> when the label had none.</summary>
    public IReadOnlyList<string>? LabelKeyValues { get; }

    /// <summary>Channels of the images the model reads.</summary>
    public int ImageChannels => Shape.Channels;

    /// <summary>Height of the images the model reads.</summary>
    public int ImageHeight => Shape.Height;

    /// <summary>Width of the images the model reads.</summary>
    public int ImageWidth => Shape.Width;

    /// <summary>The features column read.</summary>
    public string FeatureColumnName { get; }

    /// <summary>The score column written.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The predicted-label column written.</summary>
    public string PredictedLabelColumnName { get; }

    internal ImageShape Shape { get; }

    internal double[] NormalizationMean => _mean;

    internal double[] NormalizationStd => _std;

    internal nn.Module<Tensor, Tensor> Network => _network;

    /// <summary>Always true: rows are mapped one by one.</summary>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new Appender(this, inputSchema).OutputSchema;

    /// <summary>Adds the score and predicted-label columns. Rows are scored in blocks (up to 64 images per network call)
    /// as a cursor reads them; shuffled cursors score row by row.</summary>
    /// <param name="input">Rows with the features column.</param>
    /// <returns>The input with the two columns appended (lazy).</returns>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new BlockScoredDataView(input, new Appender(this, input.Schema), this);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new AppendingRowMapper(new Appender(this, inputSchema));

    /// <summary>Writes the class probabilities [N, classes] of images [N, C, H, W] with raw pixel values (normalization
    /// is applied here) to <paramref name="probabilities"/>.</summary>
    /// <param name="images">The images, float32, on the CPU.</param>
    /// <param name="probabilities">At least N·classes values.</param>
    internal void Probabilities(Tensor images, float[] probabilities)
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var logits = _network.call(Normalize(images));
        long rows = logits.shape[0], classes = logits.shape[1];
        // One row per softmax: libtorch spreads a softmax of several rows over its OpenMP threads, which then spin for
        // milliseconds while the binary engine scores the next block (docs/inference.md). Each row is computed alone
        // either way, so the values are the same.
        for (long r = 0; r < rows; r++)
        {
            using var row = nn.functional.softmax(logits.narrow(0, r, 1), 1);
            row.data<float>().CopyTo(probabilities, checked((int)(r * classes)));
        }
    }

    /// <summary>
    /// (x − mean[c]) / std[c] for images [N, C, H, W], in C#: the float32 subtraction and division libtorch would
    /// compute, without a libtorch operation, whose OpenMP threads would then spin while the binary engine scores
    /// (docs/inference.md).
    /// </summary>
    private Tensor Normalize(Tensor images)
    {
        using var contiguous = images.to_type(ScalarType.Float32).contiguous();
        var values = contiguous.data<float>().ToArray();
        int channels = checked((int)images.shape[1]);
        long plane = images.shape[2] * images.shape[3];
        for (long start = 0; start < values.LongLength; start += plane)
        {
            int c = (int)(start / plane % channels);
            float mean = (float)_mean[_mean.Length == 1 ? 0 : c], std = (float)_std[_std.Length == 1 ? 0 : c];
            var span = values.AsSpan(checked((int)start), checked((int)plane));
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = (span[i] - mean) / std;
            }
        }
        // Shares the array (no libtorch copy, see the summary).
        return torch.from_array(values).view(images.shape);
    }

    /// <summary>
    /// Copies one row's features into <paramref name="pixels"/> (a sparse vector of the right length is densified). A
    /// vector of another length is refused: copying it would leave another row's pixels in place and silently repeat
    /// that row's scores.
    /// </summary>
    internal void CopyFeatures(in VBuffer<float> features, Span<float> pixels, long row)
    {
        if (features.Length != pixels.Length)
        {
            throw new InvalidOperationException(
                $"Features column '{FeatureColumnName}' holds {features.Length} values in row {row} but the model needs {pixels.Length} ({Shape}).");
        }
        features.CopyTo(pixels);
    }

    /// <summary>The predicted label's key (1-based index of the largest probability; the first one on ties).</summary>
    internal static uint PredictedKey(ReadOnlySpan<float> probabilities)
    {
        int best = 0;
        for (int c = 1; c < probabilities.Length; c++)
        {
            if (probabilities[c] > probabilities[best]) { best = c; }
        }
        return (uint)best + 1;
    }

    /// <summary>Releases the network's native memory.</summary>
    public void Dispose() => _network.Dispose();

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, ModelSignature, FormatVersion, LoaderSignature, output => ModelChecksum.WriteWithChecksum(output, writer =>
        {
            writer.Write(FeatureColumnName);
            writer.Write(ScoreColumnName);
            writer.Write(PredictedLabelColumnName);
            writer.Write(Shape.Channels);
            writer.Write(Shape.Height);
            writer.Write(Shape.Width);
            writer.Write(LabelKeyValues?.Count ?? -1);
            foreach (var value in LabelKeyValues ?? [])
            {
                writer.Write(value);
            }
            writer.Write(_mean.Length);
            foreach (var v in _mean.Concat(_std))
            {
                writer.Write(v);
            }
            writer.Write(Architecture.ToJson());
            writer.Write(JsonSerializer.Serialize(TrainingHistory));
            PackedWeightStream.Write(writer, _network);
        }));

    private sealed class Appender : ColumnAppender
    {
        private readonly LsQuantResNetTransformer _parent;
        private readonly DataViewSchema.Column _features;

        public Appender(LsQuantResNetTransformer parent, DataViewSchema inputSchema)
            : base(inputSchema, Outputs(parent, inputSchema))
        {
            _parent = parent;
            _features = inputSchema[parent.FeatureColumnName];
        }

        private static List<DataViewSchema.DetachedColumn> Outputs(LsQuantResNetTransformer parent, DataViewSchema inputSchema)
        {
            ArgumentNullException.ThrowIfNull(inputSchema);
            var shape = ImageColumns.ResolveShape(inputSchema.GetColumnOrNull(parent.FeatureColumnName), parent.FeatureColumnName,
                parent.Shape.Channels, parent.Shape.Height, parent.Shape.Width);
            if (shape != parent.Shape)
            {
                throw new ArgumentOutOfRangeException(nameof(inputSchema),
                    $"Features column '{parent.FeatureColumnName}' holds images {shape} but the model was trained on {parent.Shape}.");
            }
            return OutputColumns.Create(parent.ScoreColumnName, parent.PredictedLabelColumnName, parent.NumClasses, parent.LabelKeyValues);
        }

        public override IEnumerable<DataViewSchema.Column> RequiredInputs => [_features];

        public override Delegate?[] MakeGetters(DataViewRow input, Func<int, bool> isOutputActive)
        {
            var source = input.GetGetter<VBuffer<float>>(input.Schema[_features.Index]);
            var buffer = default(VBuffer<float>);
            var pixels = new float[_parent.Shape.Size];
            var probabilities = new float[_parent.NumClasses];
            uint predicted = 0;
            long cachedPosition = -1;
            void Compute()
            {
                if (cachedPosition == input.Position)
                {
                    return;
                }
                source(ref buffer);
                _parent.CopyFeatures(buffer, pixels, input.Position);
                using (var scope = NewDisposeScope())
                {
                    var image = torch.tensor(pixels, [1, _parent.Shape.Channels, _parent.Shape.Height, _parent.Shape.Width]);
                    _parent.Probabilities(image, probabilities);
                }
                predicted = PredictedKey(probabilities);
                cachedPosition = input.Position;
            }
            return
            [
                isOutputActive(0) ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    Compute();
                    var editor = VBufferEditor.Create(ref dst, probabilities.Length);
                    probabilities.CopyTo(editor.Values);
                    dst = editor.Commit();
                }) : null,
                isOutputActive(1) ? (ValueGetter<uint>)((ref uint dst) => { Compute(); dst = predicted; }) : null,
            ];
        }
    }
}
