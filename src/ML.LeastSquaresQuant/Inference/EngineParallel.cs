using System;
using System.Threading.Tasks;

namespace ML.LeastSquaresQuant.Inference;

/// <summary>
/// Whether the engine's loops (rows of a convolution, samples of a packing) spread over the thread pool. They do,
/// except on a one-core machine and on a thread that scores one slice of a batch that is already split across
/// threads (<see cref="RunSerial"/>): there one loop per layer and thread would only add wake-ups and waits.
/// </summary>
internal static class EngineParallel
{
    [ThreadStatic]
    private static bool t_serial;

    /// <summary>Whether loops on this thread may run in parallel.</summary>
    public static bool Enabled => !t_serial && Environment.ProcessorCount > 1;

    /// <summary>Runs <paramref name="body"/> for 0 … <paramref name="count"/> − 1, in parallel when
    /// <see cref="Enabled"/> and <paramref name="worthIt"/>, else in order on this thread.</summary>
    public static void For(int count, bool worthIt, Action<int> body)
    {
        if (!worthIt || count <= 1 || !Enabled)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
            return;
        }
        Parallel.For(0, count, body);
    }

    /// <summary>Runs <paramref name="action"/> with every engine loop on this thread kept serial.</summary>
    public static void RunSerial(Action action)
    {
        bool outer = t_serial;
        t_serial = true;
        try
        {
            action();
        }
        finally
        {
            t_serial = outer;
        }
    }
}
