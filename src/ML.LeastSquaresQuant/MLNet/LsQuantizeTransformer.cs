using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using ML.LeastSquaresQuant.Quantization;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>What <see cref="LsQuantizeTransformer"/> writes.</summary>
public enum LsQuantizeOutput
{
    /// <summary>The quantized vector Σ v_i·s_i, same type as the input.</summary>
    Reconstruction = 0,

    /// <summary>
    /// The codes: the output column holds the packed sign bits (<c>Vector&lt;Byte&gt;</c>, binary vector i of element j at
    /// bit i·n + j, least significant bit first, 1 meaning +1) and the column <c>{output}Scalars</c> the k scalars.
    /// </summary>
    Codes = 1,
}

/// <summary>
/// Replaces each row of a float vector column by its least-squares quantization (per-row scalars), or by its codes.
/// Created by <see cref="LsQuantCatalog.LsQuantize"/>; saves and loads with <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class LsQuantizeTransformer : ITransformer, ICanSaveModel
{
    internal const string LoaderSignature = "LsQuantizeTransformer";
    private const string ModelSignature = "LSQQUANT";
    private const uint FormatVersion = 1;

    internal LsQuantizeTransformer(string outputColumnName, string inputColumnName, QuantScheme scheme, LsQuantizeOutput output)
    {
        if (!scheme.IsQuantized)
        {
            throw new ArgumentException("LsQuantize needs a quantizing scheme (ls-1, ls-2, ls-T or gf-k), not fp.", nameof(scheme));
        }
        if (!Enum.IsDefined(output))
        {
            throw new ArgumentOutOfRangeException(nameof(output), output, "Unknown LsQuantize output.");
        }
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Scheme = scheme;
        Output = output;
    }

    /// <summary>The column written.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column read.</summary>
    public string InputColumnName { get; }

    /// <summary>The scheme.</summary>
    public QuantScheme Scheme { get; }

    /// <summary>Reconstruction or codes.</summary>
    public LsQuantizeOutput Output { get; }

    /// <summary>Name of the scalars column in <see cref="LsQuantizeOutput.Codes"/> mode.</summary>
    public string ScalarsColumnName => OutputColumnName + "Scalars";

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

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MLNetInternals.Save(ctx, ModelSignature, FormatVersion, LoaderSignature, writer =>
        {
            writer.Write(OutputColumnName);
            writer.Write(InputColumnName);
            writer.Write(Scheme.ToString());
            writer.Write((int)Output);
        });

    // Called by ML.NET's model loader (see the LoadableClass attribute in MLNetInternals.cs).
    private static LsQuantizeTransformer Create(IHostEnvironment env, ModelLoadContext ctx) =>
        MLNetInternals.Load(ctx, ModelSignature, FormatVersion, FormatVersion, LoaderSignature, (reader, _) =>
        {
            string field = "the output column name";
            try
            {
                string output = reader.ReadString();
                field = "the input column name";
                string input = reader.ReadString();
                field = "the quantization scheme";
                string scheme = reader.ReadString();
                field = "the output kind";
                int kind = reader.ReadInt32();
                if (!QuantScheme.TryParse(scheme, out var parsed) || !Enum.IsDefined((LsQuantizeOutput)kind))
                {
                    throw new FormatException($"scheme '{ModelText.Printable(scheme)}', output kind {kind}");
                }
                return new LsQuantizeTransformer(output, input, parsed, (LsQuantizeOutput)kind);
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException or FormatException)
            {
                throw new DamagedModelException($"The LsQuantize model in this file is damaged ({field}): {ModelText.Printable(ex.Message, 300)}", ex);
            }
        });

    /// <summary>Checks the input column: a known-size vector of Single.</summary>
    internal static int CheckInput(DataViewSchema.Column? column, string name)
    {
        if (column is null)
        {
            throw new ArgumentOutOfRangeException(nameof(name), $"Input column '{name}' is not in the data.");
        }
        if (column.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType item } vector || item != NumberDataViewType.Single || !vector.IsKnownSize)
        {
            throw new ArgumentOutOfRangeException(nameof(name),
                $"Input column '{name}' must be a known-size vector of Single but is {column.Value.Type}.");
        }
        return vector.Size;
    }

    /// <summary>Quantizes one row; returns the reconstruction and fills scalars and packed signs.</summary>
    internal static float[] QuantizeRow(ReadOnlySpan<float> row, QuantScheme scheme, out float[] scalars, out byte[] signs)
    {
        int n = row.Length;
        if (n == 0)
        {
            throw new ArgumentException("The rows are empty: they have no columns.", "rows");
        }
        // The same per-row code LeastSquaresQuantizer runs on a tensor's rows, without building a tensor per row.
        var scratch = new float[n];
        Span<double> solved = stackalloc double[scheme.ScalarCount];
        if (!RowScalars.Solve<float>(row, scheme, scratch, solved))
        {
            throw LeastSquaresQuantizer.NonFiniteRow(0);
        }
        scalars = new float[solved.Length];
        for (int i = 0; i < solved.Length; i++)
        {
            scalars[i] = (float)solved[i];
        }
        float[] steps = scheme.Kind == QuantSchemeKind.LeastSquaresTernary ? [scalars[0], scalars[0]] : scalars;
        signs = new byte[(steps.Length * n + 7) / 8];
        var result = new float[n];
        FoldableReconstruction.Row<float>(row, steps, result, scratch, signs);
        return result;
    }

    private sealed class Appender : ColumnAppender
    {
        private readonly LsQuantizeTransformer _parent;
        private readonly DataViewSchema.Column _input;
        private readonly int _size;

        public Appender(LsQuantizeTransformer parent, DataViewSchema inputSchema)
            : base(inputSchema, Outputs(parent, inputSchema))
        {
            _parent = parent;
            _input = inputSchema[parent.InputColumnName];
            _size = ((VectorDataViewType)_input.Type).Size;
        }

        private static List<DataViewSchema.DetachedColumn> Outputs(LsQuantizeTransformer parent, DataViewSchema inputSchema)
        {
            ArgumentNullException.ThrowIfNull(inputSchema);
            int n = CheckInput(inputSchema.GetColumnOrNull(parent.InputColumnName), parent.InputColumnName);
            if (parent.Output == LsQuantizeOutput.Reconstruction)
            {
                return [new(parent.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, n))];
            }
            int bytes = (parent.Scheme.BinaryVectorCount * n + 7) / 8;
            return
            [
                new(parent.OutputColumnName, new VectorDataViewType(NumberDataViewType.Byte, bytes)),
                new(parent.ScalarsColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.Scheme.ScalarCount)),
            ];
        }

        public override IEnumerable<DataViewSchema.Column> RequiredInputs => [_input];

        public override Delegate?[] MakeGetters(DataViewRow input, Func<int, bool> isOutputActive)
        {
            var source = input.GetGetter<VBuffer<float>>(input.Schema[_input.Index]);
            var buffer = default(VBuffer<float>);
            long cachedPosition = -1;
            float[] reconstruction = [], scalars = [];
            byte[] signs = [];
            void Compute()
            {
                if (cachedPosition == input.Position)
                {
                    return;
                }
                source(ref buffer);
                if (buffer.Length != _size)
                {
                    throw new InvalidOperationException(
                        $"Input column '{_parent.InputColumnName}' holds {buffer.Length} values in row {input.Position} but its type has {_size}.");
                }
                var dense = new float[_size];
                buffer.CopyTo(dense);
                // Checked here because the quantizer sees one row at a time and would always report "row 0".
                int bad = Array.FindIndex(dense, v => !float.IsFinite(v));
                if (bad >= 0)
                {
                    throw new ArgumentOutOfRangeException(_parent.InputColumnName,
                        $"Row {input.Position} of column '{_parent.InputColumnName}' holds {dense[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)} at index {bad}; only finite values can be quantized.");
                }
                reconstruction = QuantizeRow(dense, _parent.Scheme, out scalars, out signs);
                cachedPosition = input.Position;
            }
            if (_parent.Output == LsQuantizeOutput.Reconstruction)
            {
                return [isOutputActive(0) ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => { Compute(); Fill(reconstruction, ref dst); }) : null];
            }
            return
            [
                isOutputActive(0) ? (ValueGetter<VBuffer<byte>>)((ref VBuffer<byte> dst) => { Compute(); Fill(signs, ref dst); }) : null,
                isOutputActive(1) ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => { Compute(); Fill(scalars, ref dst); }) : null,
            ];
        }

        private static void Fill<T>(T[] values, ref VBuffer<T> dst)
        {
            var editor = VBufferEditor.Create(ref dst, values.Length);
            values.CopyTo(editor.Values);
            dst = editor.Commit();
        }
    }
}
