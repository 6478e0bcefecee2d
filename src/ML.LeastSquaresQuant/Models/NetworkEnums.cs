namespace ML.LeastSquaresQuant.Models;

/// <summary>The non-linearity used inside residual blocks.</summary>
public enum Nonlinearity
{
    /// <summary>ReLU (default).</summary>
    ReLU = 0,

    /// <summary>PReLU with one learned slope per channel.</summary>
    PReLU = 1,

    /// <summary>No non-linearity.</summary>
    Identity = 2,
}

/// <summary>The residual block type.</summary>
public enum BlockKind
{
    /// <summary>conv-BN-nonlin-conv-BN, add shortcut, nonlin (the full-precision teacher's block).</summary>
    Regular = 0,

    /// <summary>BN → QuantConv → nonlin, twice (the quantized students' block).</summary>
    Xnor = 1,
}

/// <summary>The stem in front of the residual stages.</summary>
public enum StemKind
{
    /// <summary>3×3 convolution, stride 1, no pooling (32×32 images).</summary>
    Cifar = 0,

    /// <summary>7×7 convolution stride 2 padding 3, then 3×3 max-pool stride 2 padding 1.</summary>
    ImageNet = 1,
}
