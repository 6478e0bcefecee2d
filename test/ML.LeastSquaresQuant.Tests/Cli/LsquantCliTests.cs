using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using ML.LeastSquaresQuant.Cli;
using ML.LeastSquaresQuant.Data;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Cli;

[TestClass]
[DoNotParallelize]
public sealed class LsquantCliTests
{
    private string _dir = "";

    [TestInitialize]
    public void CreateFolder()
    {
        _dir = Path.Combine(Path.GetTempPath(), "lsq-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    private string TinyConfig(int epochs, string extra = "") => $"""
        experiment_name: tiny
        seed: 3
        data:
          dataset: fashion-mnist
          train_limit: 400
          test_limit: 100
        model:
          arch: resnet18
          arch_config:
            width: 4
            num_stages: 3
            layer1: {"{"}x_quant: ls-2, w_quant: ls-1, clamp: {"{"}kind: symmetric, alpha: 2{"}"}{"}"}
            layer2: {"{"}x_quant: ls-2, w_quant: ls-1{"}"}
            layer3: {"{"}x_quant: ls-T, w_quant: gf-2{"}"}
        optimization:
          epochs: {epochs}
          batch_size: 50
          optimizer: {"{"}algorithm: adam, lr: 0.003{"}"}
          lr_scheduler: {"{"}type: constant{"}"}
        log:
          folder: {Path.Combine(_dir, "experiments")}
          log_every: 4
          device: cpu
        {extra}
        """;

    private (int Code, string Output, string Error) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            int code = (int)typeof(ExperimentConfig).Assembly.EntryPoint!.Invoke(null, [args])!;
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    [TestMethod]
    public void TestTrainResumeEvaluatePredict()
    {
        string config = Path.Combine(_dir, "tiny.yaml");
        File.WriteAllText(config, TinyConfig(epochs: 1));
        var (code, output, error) = Run("train", "--config", config);
        Assert.AreEqual(0, code, output + error);
        StringAssert.Contains(output, "epoch 1: loss");
        string folder = Path.Combine(_dir, "experiments", "tiny");
        foreach (var file in new[] { "config.yaml", "model.zip", "metrics.json", "training-curves.png", "checkpoints/checkpoint-latest.bin" })
        {
            Assert.IsTrue(File.Exists(Path.Combine(folder, file)), file);
        }
        var png = File.ReadAllBytes(Path.Combine(folder, "training-curves.png"));
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        var firstEpoch = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json"))).RootElement.GetProperty("epochs")[0].GetRawText();

        (code, _, error) = Run("train", "--config", config);
        Assert.AreEqual(1, code);
        StringAssert.Contains(error, "--resume");

        File.WriteAllText(config, TinyConfig(epochs: 2));
        (code, output, error) = Run("train", "--config", config, "--resume");
        Assert.AreEqual(0, code, output + error);
        var epochs = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json"))).RootElement.GetProperty("epochs");
        Assert.AreEqual(2, epochs.GetArrayLength());
        Assert.AreEqual(firstEpoch, epochs[0].GetRawText(), "the resumed run keeps the first epoch's record");

        (code, output, error) = Run("evaluate", "--experiment", folder);
        Assert.AreEqual(0, code, output + error);
        StringAssert.Contains(output, "100 test images: top-1");
        var evaluation = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "evaluation.json"))).RootElement;
        Assert.IsTrue(evaluation.GetProperty("top1").GetDouble() is >= 0 and <= 1);
        Assert.AreEqual(new FileInfo(Path.Combine(folder, "model.zip")).Length, evaluation.GetProperty("model_file_bytes").GetInt64());
        Assert.IsGreaterThan(0.0, evaluation.GetProperty("images_per_second").GetDouble());
        StringAssert.Contains(output, "images/s");

        var files = FashionMnist.Files();
        var images = PngExporter.ExportIdx(files.TestImages, files.TestLabels, Path.Combine(_dir, "png"), FashionMnist.ClassNames, limit: 3);
        (code, output, error) = Run(["predict", "--experiment", folder, .. images.Select(i => i.ImagePath)]);
        Assert.AreEqual(0, code, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(3, lines);
        Assert.IsTrue(lines.All(l => FashionMnist.ClassNames.Contains(l.Split('\t')[1])), output);
    }

    [TestMethod]
    public void TestBadConfigsNameTheKeyAndTheFile()
    {
        string config = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(config, TinyConfig(1, "colour: blue"));
        var ex = Assert.ThrowsExactly<ConfigException>(() => ConfigLoader.Load(config));
        StringAssert.Contains(ex.Message, config);
        StringAssert.Contains(ex.Message, "unknown key 'colour'");

        File.WriteAllText(config, TinyConfig(1).Replace("x_quant: ls-T", "x_quant: ls-3"));
        ex = Assert.ThrowsExactly<ConfigException>(() => ConfigLoader.Load(config));
        StringAssert.Contains(ex.Message, "model.arch_config.layer3.x_quant");
        StringAssert.Contains(ex.Message, "ls-3");

        File.WriteAllText(config, TinyConfig(1).Replace("dataset: fashion-mnist", "dataset: svhn"));
        ex = Assert.ThrowsExactly<ConfigException>(() => ConfigLoader.Load(config));
        StringAssert.Contains(ex.Message, "data.dataset");

        ex = Assert.ThrowsExactly<ConfigException>(() => ConfigLoader.Load(Path.Combine(_dir, "missing.yaml")));
        StringAssert.Contains(ex.Message, "missing.yaml");

        File.WriteAllText(config, TinyConfig(1, "kd_config: {teacher: nowhere}"));
        var (code, _, error) = Run("train", "--config", config);
        Assert.AreEqual(1, code);
        StringAssert.Contains(error, "kd_config.teacher");
    }

    [TestMethod]
    public void TestShippedConfigsParse()
    {
        string root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "configs"));
        var configs = Directory.GetFiles(root, "*.yaml", SearchOption.AllDirectories);
        Assert.IsGreaterThanOrEqualTo(10, configs.Length, root);
        foreach (var path in configs)
        {
            var c = ConfigLoader.Load(path);
            Assert.IsNotNull(ConfigLoader.Architecture(c), path);
        }
    }
}
