using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// What a row-to-row transformer of ours adds to a row: output columns computed from some input columns.
/// <see cref="AppendedDataView"/> and <see cref="AppendingRowMapper"/> turn it into ML.NET's lazy IDataView and the
/// row mapper behind PredictionEngine, through public ML.NET interfaces only.
/// </summary>
internal abstract class ColumnAppender
{
    protected ColumnAppender(DataViewSchema inputSchema, IReadOnlyList<DataViewSchema.DetachedColumn> outputs)
    {
        InputSchema = inputSchema;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var column in outputs)
        {
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        }
        OutputSchema = builder.ToSchema();
        OutputCount = outputs.Count;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    /// <summary>Number of appended columns (the last ones of <see cref="OutputSchema"/>).</summary>
    public int OutputCount { get; }

    /// <summary>Input columns the appended columns are computed from.</summary>
    public abstract IEnumerable<DataViewSchema.Column> RequiredInputs { get; }

    /// <summary>Getters for the appended columns (index 0 = first appended column) over <paramref name="input"/>;
    /// an entry may be null when that column is not active.</summary>
    public abstract Delegate?[] MakeGetters(DataViewRow input, Func<int, bool> isOutputActive);

    /// <summary>The input columns needed to produce the given output columns.</summary>
    public IEnumerable<DataViewSchema.Column> Dependencies(IEnumerable<DataViewSchema.Column> outputColumns)
    {
        var needed = new HashSet<int>();
        int appendedStart = InputSchema.Count;
        foreach (var column in outputColumns)
        {
            if (column.Index < appendedStart)
            {
                needed.Add(column.Index);
            }
            else
            {
                foreach (var input in RequiredInputs)
                {
                    needed.Add(input.Index);
                }
            }
        }
        return needed.OrderBy(i => i).Select(i => InputSchema[i]);
    }
}

/// <summary>A row of the output schema over a row of the input schema.</summary>
internal sealed class AppendedRow : DataViewRow
{
    private readonly DataViewRow _input;
    private readonly Delegate?[] _getters;
    private readonly bool[] _active;
    private readonly int _inputCount;

    public AppendedRow(ColumnAppender appender, DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        _input = input;
        Schema = appender.OutputSchema;
        _inputCount = appender.InputSchema.Count;
        _active = new bool[Schema.Count];
        foreach (var column in activeColumns)
        {
            _active[column.Index] = true;
        }
        _getters = appender.MakeGetters(input, i => _active[_inputCount + i]);
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < _inputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _active[column.Index];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (column.Index < _inputCount)
        {
            return _input.GetGetter<TValue>(_input.Schema[column.Index]);
        }
        var getter = _getters[column.Index - _inputCount]
            ?? throw new InvalidOperationException($"Column '{column.Name}' was not requested as active.");
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}, not {typeof(TValue).Name}.");
    }
}

/// <summary>A cursor of the output schema over a cursor of the input.</summary>
internal sealed class AppendedCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly AppendedRow _row;

    public AppendedCursor(ColumnAppender appender, DataViewRowCursor input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        _input = input;
        _row = new AppendedRow(appender, input, activeColumns);
    }

    public override DataViewSchema Schema => _row.Schema;

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override bool MoveNext() => _input.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _row.IsColumnActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _row.GetGetter<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _input.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>The lazy result of a transformer's <c>Transform</c>: the input plus appended columns.</summary>
internal sealed class AppendedDataView : IDataView
{
    private readonly IDataView _input;
    private readonly ColumnAppender _appender;

    public AppendedDataView(IDataView input, ColumnAppender appender)
    {
        _input = input;
        _appender = appender;
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema => _appender.OutputSchema;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = columnsNeeded.ToArray();
        var inputCursor = _input.GetRowCursor(_appender.Dependencies(active), rand);
        return new AppendedCursor(_appender, inputCursor, active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];
}

/// <summary>The row mapper that PredictionEngine and chained transformers use.</summary>
internal sealed class AppendingRowMapper : IRowToRowMapper
{
    private readonly ColumnAppender _appender;

    public AppendingRowMapper(ColumnAppender appender) => _appender = appender;

    public DataViewSchema InputSchema => _appender.InputSchema;

    public DataViewSchema OutputSchema => _appender.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        _appender.Dependencies(dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new AppendedRow(_appender, input, activeColumns);
}
