using System.Linq;
using Microsoft.ML;

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>Column lookup on a <see cref="SchemaShape"/> through its public enumeration (ML.NET's own lookup is internal).</summary>
internal static class SchemaShapeLookup
{
    public static SchemaShape.Column? Find(SchemaShape shape, string name) =>
        shape.Where(c => c.Name == name).Select(c => (SchemaShape.Column?)c).FirstOrDefault();
}
