namespace ML.LeastSquaresQuant.Tests.Infrastructure;

/// <summary>Runs the library's check of the ML.NET internals it uses (fails with the member's name if one moved).</summary>
internal static class MLNetInternalsProbe
{
    public static void Verify() => ML.LeastSquaresQuant.MLNet.MLNetInternals.Verify();
}

/// <summary>ML.NET keeps SchemaShape.Create internal; tests reach it by reflection to call GetOutputSchema like ML.NET does.</summary>
internal static class SchemaShapes
{
    public static Microsoft.ML.SchemaShape Of(Microsoft.ML.DataViewSchema schema) =>
        (Microsoft.ML.SchemaShape)typeof(Microsoft.ML.SchemaShape)
            .GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)!
            .Invoke(null, [schema])!;

    public static Microsoft.ML.SchemaShape.Column Find(Microsoft.ML.SchemaShape shape, string name) =>
        System.Linq.Enumerable.Single(shape, c => c.Name == name);
}
