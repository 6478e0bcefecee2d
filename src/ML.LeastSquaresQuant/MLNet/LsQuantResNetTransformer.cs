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
/// <remarks>Scoring runs on the CPU, one row at a time, and is safe from several threads (the network is only read).</remarks>
public sealed class LsQuantResNetTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "LsQuantResNetTransformer";
    private const string ModelSignature = "LSQRESNT";
    // Version 2 stores quantized weights as bit-planes with a checksum (PackedWeightStream); version 1 (TorchSharp's
    // state dictionary of float32 tensors) is still read.
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
        foreach (var module in _network.modules())
        {
            (module as QuantConv2d)?.FreezeWeights();
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
    /// Whether quantized convolutions (both schemes quantized) score on the binary engine: bit-planes, XOR and popcount
    /// (docs/inference.md). True by default; false scores with float convolutions of the reconstructed quantized
    /// tensors, the path training uses. Both give the same function up to float32 rounding. Change it only while
    /// nothing is scoring.
    /// </summary>
    public bool UseBinaryEngine
    {
        get => _useBinaryEngine;
        set
        {
            foreach (var module in _network.modules())
            {
                (module as QuantConv2d)?.UseBinaryEngine(value);
            }
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

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new AppendedDataView(input, new Appender(this, input.Schema));
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new AppendingRowMapper(new Appender(this, inputSchema));

    /// <summary>Class probabilities for images [N, C, H, W] with raw pixel values (normalization is applied here).</summary>
    /// <param name="images">The images, float32, on the CPU.</param>
    /// <returns>Probabilities [N, classes].</returns>
    internal Tensor Probabilities(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var mean = torch.tensor(_mean).to_type(ScalarType.Float32).view(1, -1, 1, 1);
        var std = torch.tensor(_std).to_type(ScalarType.Float32).view(1, -1, 1, 1);
        return nn.functional.softmax(_network.call((images - mean) / std), 1).MoveToOuterDisposeScope();
    }

    /// <summary>Releases the network's native memory.</summary>
    public void Dispose() => _network.Dispose();

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, ModelSignature, FormatVersion, LoaderSignature, writer =>
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
        });

    // Called by ML.NET's model loader (see the LoadableClass attribute in MLNetInternals.cs).
    private static LsQuantResNetTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        MLNetInternals.Load(ctx, ModelSignature, FormatVersion, OldestFormatVersion, LoaderSignature, Read);

    private static LsQuantResNetTransformer Read(BinaryReader reader, uint version)
    {
        try
        {
            string features = reader.ReadString(), score = reader.ReadString(), predicted = reader.ReadString();
            var shape = new ImageShape(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
            int keyCount = reader.ReadInt32();
            if (keyCount < -1 || keyCount > 1_000_000 || shape.Channels < 1 || shape.Height < 1 || shape.Width < 1)
            {
                throw new FormatException($"implausible header (shape {shape}, {keyCount} key values)");
            }
            string[]? keys = keyCount < 0 ? null : Enumerable.Range(0, keyCount).Select(_ => reader.ReadString()).ToArray();
            int channels = reader.ReadInt32();
            if (channels != shape.Channels)
            {
                throw new FormatException($"normalization has {channels} channels, images {shape.Channels}");
            }
            var mean = Enumerable.Range(0, channels).Select(_ => reader.ReadDouble()).ToArray();
            var std = Enumerable.Range(0, channels).Select(_ => reader.ReadDouble()).ToArray();
            var architecture = NetworkArchitecture.FromJson(reader.ReadString());
            var history = JsonSerializer.Deserialize<List<EpochMetrics>>(reader.ReadString()) ?? [];
            if (keys is not null && keys.Length != architecture.NumClasses)
            {
                throw new FormatException($"{keys.Length} label values for {architecture.NumClasses} classes");
            }
            var network = architecture.Build();
            if (version >= 2)
            {
                PackedWeightStream.Read(reader, network);
            }
            else
            {
                ReadStateDictionary(reader, network);
            }
            return new LsQuantResNetTransformer(network, architecture, shape, features, score, predicted, keys, mean, std, history);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ArgumentException or JsonException
            or InvalidOperationException or FormatException or OverflowException)
        {
            throw new FormatException($"The LsQuantResNet model in this file is damaged: {ex.Message}", ex);
        }
    }

    /// <summary>Format version 1's weights: a length-prefixed TorchSharp state dictionary of float32 tensors.</summary>
    private static void ReadStateDictionary(BinaryReader reader, nn.Module network)
    {
        long stateLength = reader.ReadInt64();
        if (stateLength <= 0 || stateLength > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new FormatException($"implausible weights length {stateLength}");
        }
        var state = reader.ReadBytes((int)stateLength);
        if (state.Length != stateLength)
        {
            throw new FormatException($"the weights are truncated ({state.Length} of {stateLength} bytes)");
        }
        using var stateReader = new BinaryReader(new MemoryStream(state));
        network.load(stateReader, strict: true);
    }

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
                buffer.CopyTo(pixels);
                using (var scope = NewDisposeScope())
                {
                    var image = torch.tensor(pixels, [1, _parent.Shape.Channels, _parent.Shape.Height, _parent.Shape.Width]);
                    _parent.Probabilities(image).data<float>().CopyTo(probabilities, 0);
                }
                int best = 0;
                for (int c = 1; c < probabilities.Length; c++)
                {
                    if (probabilities[c] > probabilities[best]) { best = c; }
                }
                predicted = (uint)best + 1;
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
