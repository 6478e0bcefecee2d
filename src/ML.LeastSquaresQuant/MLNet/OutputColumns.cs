using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>The Score and PredictedLabel columns of a multiclass classifier, with the annotations ML.NET's evaluator and MapKeyToValue use.</summary>
internal static class OutputColumns
{
    public static List<DataViewSchema.DetachedColumn> Create(string scoreColumn, string predictedLabelColumn, int classes, IReadOnlyList<string>? keyValues)
    {
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        var predictedAnnotations = new DataViewSchema.Annotations.Builder();
        if (keyValues is not null)
        {
            var names = keyValues.Select(v => v.AsMemory()).ToArray();
            ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, names.Length);
                names.CopyTo(editor.Values);
                dst = editor.Commit();
            };
            scoreAnnotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, classes), getter);
            predictedAnnotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, classes), getter);
        }
        scoreAnnotations.Add("ScoreColumnKind", TextDataViewType.Instance, Text("MulticlassClassification"));
        scoreAnnotations.Add("ScoreValueKind", TextDataViewType.Instance, Text("Score"));
        return
        [
            new(scoreColumn, new VectorDataViewType(NumberDataViewType.Single, classes), scoreAnnotations.ToAnnotations()),
            new(predictedLabelColumn, new KeyDataViewType(typeof(uint), classes), predictedAnnotations.ToAnnotations()),
        ];
    }

    private static ValueGetter<ReadOnlyMemory<char>> Text(string value) => (ref ReadOnlyMemory<char> dst) => dst = value.AsMemory();
}
