using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// <see cref="LsQuantResNetTransformer.Transform"/>'s result: a cursor reads the features of a block of rows ahead,
/// scores them as one batch (one network call instead of one per row, which is what makes <c>Evaluate</c> and bulk
/// scoring fast), then serves the rows. A second cursor over the input serves every other column, so nothing of the
/// input needs copying. A shuffled cursor (a <see cref="Random"/> given) cannot be replayed by a second cursor, so it
/// scores row by row, as <c>PredictionEngine</c> does.
/// </summary>
internal sealed class BlockScoredDataView : IDataView
{
    /// <summary>Rows per block, fewer for large images (at most about 16 M pixel values are buffered).</summary>
    public static int BlockRows(int imageSize) => Math.Clamp((1 << 24) / Math.Max(1, imageSize), 1, 64);

    private readonly IDataView _input;
    private readonly ColumnAppender _appender;
    private readonly LsQuantResNetTransformer _model;
    private readonly DataViewSchema.Column _features;

    public BlockScoredDataView(IDataView input, ColumnAppender appender, LsQuantResNetTransformer model)
    {
        _input = input;
        _appender = appender;
        _model = model;
        _features = input.Schema[model.FeatureColumnName];
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema => _appender.OutputSchema;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = columnsNeeded.ToArray();
        var main = _input.GetRowCursor(_appender.Dependencies(active), rand);
        if (rand is not null || active.All(c => c.Index < _appender.InputSchema.Count))
        {
            return new AppendedCursor(_appender, main, active);
        }
        return new BlockScoredCursor(this, main, _input.GetRowCursor([_features]), active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class BlockScoredCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _main, _ahead;
        private readonly ValueGetter<VBuffer<float>> _source;
        private readonly LsQuantResNetTransformer _model;
        private readonly bool[] _active;
        private readonly int _inputCount, _classes, _imageSize, _blockRows;
        private readonly float[] _pixels, _probabilities;
        private readonly uint[] _predicted;
        private VBuffer<float> _buffer;
        private int _count, _index;

        public BlockScoredCursor(BlockScoredDataView view, DataViewRowCursor main, DataViewRowCursor ahead, DataViewSchema.Column[] active)
        {
            _main = main;
            _ahead = ahead;
            _model = view._model;
            _source = ahead.GetGetter<VBuffer<float>>(ahead.Schema[view._features.Index]);
            Schema = view.Schema;
            _inputCount = view._appender.InputSchema.Count;
            _active = new bool[Schema.Count];
            foreach (var column in active)
            {
                _active[column.Index] = true;
            }
            _classes = _model.NumClasses;
            _imageSize = _model.Shape.Size;
            _blockRows = BlockRows(_imageSize);
            _pixels = new float[_blockRows * _imageSize];
            _probabilities = new float[_blockRows * _classes];
            _predicted = new uint[_blockRows];
        }

        public override DataViewSchema Schema { get; }

        public override long Position => _main.Position;

        public override long Batch => _main.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < _inputCount ? _main.IsColumnActive(_main.Schema[column.Index]) : _active[column.Index];

        public override bool MoveNext()
        {
            if (!_main.MoveNext())
            {
                return false;
            }
            if (_index == _count)
            {
                ScoreNextBlock();
            }
            _index++;
            return true;
        }

        private void ScoreNextBlock()
        {
            _count = 0;
            _index = 0;
            while (_count < _blockRows && _ahead.MoveNext())
            {
                _source(ref _buffer);
                _model.CopyFeatures(_buffer, _pixels.AsSpan(_count * _imageSize, _imageSize), _ahead.Position);
                _count++;
            }
            if (_count == 0)
            {
                throw new InvalidOperationException("The input gave fewer rows to the read-ahead cursor than to the main one.");
            }
            using var scope = NewDisposeScope();
            // A view of the pixel buffer (pinned until the scope ends), not a copy: libtorch copies this large run in
            // parallel, and its OpenMP threads would then spin while the binary engine scores (docs/inference.md).
            var images = from_array(_pixels).narrow(0, 0, (long)_count * _imageSize)
                .view(_count, _model.Shape.Channels, _model.Shape.Height, _model.Shape.Width);
            _model.Probabilities(images, _probabilities);
            for (int r = 0; r < _count; r++)
            {
                _predicted[r] = LsQuantResNetTransformer.PredictedKey(_probabilities.AsSpan(r * _classes, _classes));
            }
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount)
            {
                return _main.GetGetter<TValue>(_main.Schema[column.Index]);
            }
            if (!_active[column.Index])
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested as active.");
            }
            Delegate getter = column.Index - _inputCount == 0
                ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var editor = VBufferEditor.Create(ref dst, _classes);
                    _probabilities.AsSpan((_index - 1) * _classes, _classes).CopyTo(editor.Values);
                    dst = editor.Commit();
                })
                : (ValueGetter<uint>)((ref uint dst) => dst = _predicted[_index - 1]);
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}, not {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _ahead.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
