namespace ML.LeastSquaresQuant.MLNet;

/// <summary>
/// An input row for scoring image files with a <c>PredictionEngine</c> over a pipeline that starts with
/// <c>MapValueToKey("Label")</c> and <c>LoadImages(..., "ImagePath")</c>.
/// </summary>
public sealed class ImageFileInput
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>The label as text; leave empty when scoring (the key mapper accepts an unknown value).</summary>
    public string Label { get; set; } = "";
}

/// <summary>What an LsQuantResNet pipeline ending in <c>MapKeyToValue("PredictedLabel")</c> predicts for one row.</summary>
public sealed class ImageClassPrediction
{
    /// <summary>Class probabilities, in the order of the label's key values.</summary>
    public float[] Score { get; set; } = [];

    /// <summary>The predicted label's value.</summary>
    public string PredictedLabel { get; set; } = "";
}
