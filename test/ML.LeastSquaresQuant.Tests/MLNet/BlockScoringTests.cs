using System;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Microsoft.ML.Data;
using ML.LeastSquaresQuant.MLNet;
using ML.LeastSquaresQuant.NativeProbe;
using ML.LeastSquaresQuant.Tests.Infrastructure;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.MLNet;

/// <summary><c>Transform</c> scores blocks of rows in one network call; every row must get its own scores.</summary>
[TestClass]
[DoNotParallelize]
public sealed class BlockScoringTests
{
    private sealed class Scored
    {
        public uint Label { get; set; }

        public float[] Features { get; set; } = [];

        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void TestBlocksScoreEveryRowAsPredictionEngineDoes(bool engine)
    {
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(PackedModelFileTests.FixturePath("model.zip"), out _);
        ((TransformerChain<ITransformer>)model).OfType<LsQuantResNetTransformer>().Single().UseBinaryEngine = engine;
        // 150 rows: two full blocks of 64 and a partial one, so rows on both sides of a block boundary are checked.
        var rows = Fixtures.Rows(150);
        var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToArray();
        var single = ml.Model.CreatePredictionEngine<Fixtures.Row, Fixtures.Scores>(model);
        Assert.HasCount(rows.Length, scored);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.AreEqual(rows[i].Label + 1, scored[i].Label, $"row {i}: the input's own columns stay aligned");
            CollectionAssert.AreEqual(rows[i].Features, scored[i].Features, $"row {i}");
            var expected = single.Predict(rows[i]).Score;
            for (int c = 0; c < expected.Length; c++)
            {
                Assert.AreEqual(expected[c], scored[i].Score[c], 1e-5, $"row {i} class {c}");
            }
        }
        var distinct = scored.Select(s => string.Join(',', s.Score)).Distinct().Count();
        Assert.IsGreaterThan(100, distinct, "rows get their own scores, not a neighbour's");
    }

    [TestMethod]
    public void TestScoringOnTheEngineDoesNotGrowMemory()
    {
        using var everywhere = ProcessSwitches.BinaryEngineEverywhere();
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(PackedModelFileTests.FixturePath("model.zip"), out _);
        var single = ml.Model.CreatePredictionEngine<Fixtures.Row, Fixtures.Scores>(model);
        var rows = Fixtures.Rows(64);
        var data = ml.Data.LoadFromEnumerable(rows);
        long Measure(int rounds)
        {
            for (int r = 0; r < rounds; r++)
            {
                foreach (var row in rows)
                {
                    single.Predict(row);
                }
                _ = model.Transform(data).GetColumn<float[]>("Score").Count();
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            return process.WorkingSet64;
        }
        long warm = Measure(5);
        long after = Measure(25);
        // 1,600 single predictions and 25 block passes after the warm-up: native tensors and packed planes are freed.
        Assert.IsLessThan(24L << 20, after - warm, $"memory grew by {(after - warm) >> 20} MiB");
    }

    [TestMethod]
    public void TestAShortRowInABlockIsRefused()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(PackedModelFileTests.FixturePath("model.zip"), out _);
        var rows = Fixtures.Rows(10);
        var schema = Microsoft.ML.Data.SchemaDefinition.Create(typeof(Fixtures.Row));
        var data = ml.Data.LoadFromEnumerable(rows.Select((r, i) => i == 7 ? new Fixtures.Row { Label = r.Label, Features = [] } : r), schema);
        // Refused (by the block cursor, or by ML.NET's own vector-size check), never scored with a neighbour's pixels.
        Assert.Throws<Exception>(() => ml.Data.CreateEnumerable<Fixtures.Scores>(model.Transform(data), false).ToArray());
    }
}
