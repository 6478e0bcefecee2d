using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using ML.LeastSquaresQuant.Tests.MLNet;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace ML.LeastSquaresQuant.Tests.Training;

/// <summary>
/// Training killed with SIGKILL at random points (the checkpoint is written every epoch, so some kills land in or
/// near a write) always resumes from its last complete checkpoint, and the final weights equal an uninterrupted
/// run's bit for bit.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class CheckpointKillTests
{
    private const int Epochs = 80;

    private const int Kills = 5;

    private static (Process Process, Func<string> Output) Start(string directory)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { HostileProbeRunner.ProbePath(), "train-resume", directory, Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["OMP_NUM_THREADS"] = "1";
        var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        return (process, () => stdout.Result + stderr.Result);
    }

    private static string RunToEnd(string directory)
    {
        var (process, output) = Start(directory);
        using (process)
        {
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(3)), "training did not finish");
            string text = output();
            Assert.AreEqual(0, process.ExitCode, text);
            return text.Split('\n').Single(l => l.StartsWith("done ", StringComparison.Ordinal)).Trim();
        }
    }

    private static string[] Temporaries(string directory) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, "*.tmp") : [];

    [TestMethod]
    public void TestKilledTrainingResumesToTheUninterruptedWeights()
    {
        string root = Path.Combine(Path.GetTempPath(), "lsq-kill-" + Guid.NewGuid().ToString("N"));
        try
        {
            string expected = RunToEnd(Path.Combine(root, "reference"));
            string directory = Path.Combine(root, "killed");
            string latest = Path.Combine(directory, "checkpoint-latest.bin");
            var random = new Random(7);
            int kills = 0, killedMidWrite = 0, resumed = 0;
            for (int k = 0; k < Kills; k++)
            {
                // Temporary files a killed write left behind stay; only a new one shows a write in progress now.
                var stale = Temporaries(directory);
                var (process, output) = Start(directory);
                using (process)
                {
                    // Odd kills wait for a checkpoint write in progress (its temporary file exists); even ones come a
                    // random moment after a random number of completed checkpoints.
                    bool midWrite = k % 2 == 1;
                    int writes = random.Next(1, 6), seen = 0, pause = random.Next(0, 25);
                    var last = File.Exists(latest) ? File.GetLastWriteTimeUtc(latest) : DateTime.MinValue;
                    var deadline = Stopwatch.StartNew();
                    while (!process.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
                    {
                        if (midWrite && Temporaries(directory).Except(stale).Any())
                        {
                            break;
                        }
                        var now = File.Exists(latest) ? File.GetLastWriteTimeUtc(latest) : DateTime.MinValue;
                        if (now != last)
                        {
                            last = now;
                            seen++;
                        }
                        if (seen >= writes + (midWrite ? 3 : 0))
                        {
                            Thread.Sleep(pause);
                            break;
                        }
                        Thread.Sleep(1);
                    }
                    if (process.HasExited)
                    {
                        // The resumed run had little left and finished first: nothing more to interrupt.
                        Assert.AreEqual(0, process.ExitCode, output());
                        break;
                    }
                    killedMidWrite += Temporaries(directory).Except(stale).Any() ? 1 : 0;
                    process.Kill();
                    process.WaitForExit();
                    kills++;
                    resumed += output().Contains("resume", StringComparison.Ordinal) ? 1 : 0;
                }
                // Whatever the kill interrupted, the latest checkpoint is a complete one (the next run loads it).
            }
            string final = RunToEnd(directory);
            Console.WriteLine($"{kills} kills, {killedMidWrite} with a checkpoint write in progress, {resumed} restarts that resumed");
            Assert.AreEqual(expected, final, "weights after kills and resumes differ from the uninterrupted run's");
            Assert.AreEqual(Kills, kills, "some kills came after the run finished");
            Assert.IsGreaterThanOrEqualTo(1, resumed, "no restart resumed from a checkpoint: the kills came too early to test resuming");
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
