using System;
using System.Runtime.InteropServices;
using ML.LeastSquaresQuant.Training;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace ML.LeastSquaresQuant.Tests.Training;

[TestClass]
public sealed class NativeAllocatorTests
{
    private const long Elements = 1 << 20; // 4 MiB of float32
    private const int Count = 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicros, SystemSeconds, SystemMicros;
        public long MaxRss, SharedRss, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public long Swaps, BlocksIn, BlocksOut, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [DllImport("libc.so.6", EntryPoint = "getrusage")]
    private static extern int GetRUsage(int who, out RUsage usage);

    private static long ThreadMinorFaults()
    {
        Assert.AreEqual(0, GetRUsage(1 /* RUSAGE_THREAD */, out var usage));
        return usage.MinorFaults;
    }

    [TestMethod]
    public void TestTunedAllocatorReusesFreedTensorMemoryWithoutPageFaults()
    {
        if (!OperatingSystem.IsLinux())
        {
            // Documented behaviour elsewhere: nothing is changed.
            Assert.IsFalse(NativeAllocator.Tune(), "the tuning applies to glibc only");
            Assert.IsFalse(NativeAllocator.IsTuned);
            return;
        }
        Assert.IsTrue(NativeAllocator.Tune(), "glibc on Linux: the tuning applies");
        Assert.IsTrue(NativeAllocator.IsTuned);
        Assert.IsTrue(NativeAllocator.Tune(), "idempotent");

        // The pattern of a training step: megabyte-sized activations alive at once (32 MiB here), then all freed.
        // Untuned, glibc trims that memory off the heap at the end of every round and faults it in again in the
        // next (about 7,000 faults per round with 4 KiB pages). Tuned, it settles within a few rounds and then
        // reuses the memory; the best of three measurements ignores a late settling set.
        const int rounds = 5;
        long best = long.MaxValue;
        for (int set = 0; set < 6; set++)
        {
            long before = ThreadMinorFaults();
            for (int i = 0; i < rounds; i++)
            {
                AllocateAndFreeActivations();
            }
            long faults = ThreadMinorFaults() - before;
            if (set >= 3)
            {
                best = Math.Min(best, faults);
            }
        }
        long pagesPerRound = Count * Elements * sizeof(float) / Environment.SystemPageSize;
        Assert.IsLessThan(pagesPerRound / 4, best, $"{best} page faults in {rounds} rounds of {pagesPerRound} pages");
    }

    private static void AllocateAndFreeActivations()
    {
        var tensors = new Tensor[Count];
        for (int i = 0; i < Count; i++)
        {
            tensors[i] = torch.empty(Elements);
            // Written on this thread so that its page faults, if any, count for this thread.
            MemoryMarshal.Cast<byte, float>(tensors[i].bytes).Fill(i);
        }
        foreach (var t in tensors)
        {
            t.Dispose();
        }
    }
}
