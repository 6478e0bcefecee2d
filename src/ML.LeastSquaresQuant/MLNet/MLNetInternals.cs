using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using ML.LeastSquaresQuant.MLNet;

// Every use of ML.NET's internal API lives in this file (plus the two-line Create(env, ctx) loaders the model loader
// needs on each saved transformer). We compile against copies of Microsoft.ML.Core/Data whose internals are public
// (build/Publicizer), and the runtime accepts the calls because of these attributes. Microsoft.ML is pinned to 5.0.1;
// Verify() fails loudly, naming the member, if a future ML.NET moves one of them.
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: IgnoresAccessChecksTo("Microsoft.ML.Data")]
[assembly: LoadableClass(typeof(LsQuantResNetTransformer), null, typeof(SignatureLoadModel),
    "LsQuant ResNet transformer", LsQuantResNetTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(LsQuantizeTransformer), null, typeof(SignatureLoadModel),
    "LsQuantize transformer", LsQuantizeTransformer.LoaderSignature)]

namespace ML.LeastSquaresQuant.MLNet;

/// <summary>The only place that touches ML.NET internals.</summary>
internal static class MLNetInternals
{
    private const string PayloadStream = "LsQuantPayload";

    /// <summary>The environment (MLContext) behind a catalog, as ML.NET's own catalog methods get it.</summary>
    public static IHostEnvironment GetEnvironment(object catalog) => catalog switch
    {
        IInternalCatalog internalCatalog => CatalogUtils.GetEnvironment(internalCatalog),
        _ => throw new ArgumentException($"{catalog.GetType().Name} is not an ML.NET catalog.", nameof(catalog)),
    };

    public static int? Seed(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.Seed;

    public static int? GpuDeviceId(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.GpuDeviceId;

    public static bool FallbackToCpu(IHostEnvironment env) => (env as IHostEnvironmentInternal)?.FallbackToCpu ?? true;

    /// <summary>Throws <see cref="OperationCanceledException"/> when the MLContext was cancelled.</summary>
    public static void CheckAlive(IHostEnvironment env) => env.CheckAlive();

    public static SchemaShape.Column ShapeColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey,
        SchemaShape? annotations = null) => new(name, kind, itemType, isKey, annotations);

    /// <summary>Writes a transformer: version info naming our loader, then one binary stream of our own format.</summary>
    public static void Save(ModelSaveContext ctx, string modelSignature, uint version, string loaderSignature, Action<BinaryWriter> write)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Version(modelSignature, version, version, loaderSignature));
        ctx.SaveBinaryStream(PayloadStream, write);
    }

    /// <summary>Reads what <see cref="Save"/> wrote; throws <see cref="FormatException"/> for anything else.</summary>
    public static T Load<T>(ModelLoadContext ctx, string modelSignature, uint version, string loaderSignature, Func<BinaryReader, T> read) =>
        Load(ctx, modelSignature, version, version, loaderSignature, (reader, _) => read(reader));

    /// <summary>
    /// Reads what <see cref="Save"/> wrote with any format version from <paramref name="oldestVersion"/> to
    /// <paramref name="version"/>; <paramref name="read"/> gets the version the file was written with.
    /// </summary>
    public static T Load<T>(ModelLoadContext ctx, string modelSignature, uint version, uint oldestVersion, string loaderSignature,
        Func<BinaryReader, uint, T> read)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ctx.CheckAtModel(Version(modelSignature, version, oldestVersion, loaderSignature));
        uint fileVersion = ctx.Header.ModelVerWritten;
        T? result = default;
        bool found = ctx.TryLoadBinaryStream(PayloadStream, reader => result = read(reader, fileVersion));
        if (!found || result is null)
        {
            throw new FormatException($"The model has no '{PayloadStream}' stream: it was not written by {typeof(MLNetInternals).Assembly.GetName().Name}.");
        }
        return result;
    }

    private static VersionInfo Version(string modelSignature, uint version, uint oldestVersion, string loaderSignature) =>
        new(modelSignature, version, version, oldestVersion, typeof(MLNetInternals).Assembly.FullName, loaderSignature, null);

    /// <summary>
    /// Checks, by reflection on the ML.NET assemblies loaded at run time, that every internal member used here
    /// exists with the expected signature.
    /// </summary>
    /// <exception cref="InvalidOperationException">A member is missing; the message names it and the ML.NET version.</exception>
    public static void Verify()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        var core = typeof(IHostEnvironment).Assembly;
        var data = typeof(MLContext).Assembly;
        Require(data.GetType("Microsoft.ML.Data.CatalogUtils")?.GetMethod("GetEnvironment", all), "Microsoft.ML.Data.CatalogUtils.GetEnvironment", data);
        Require(core.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal")?.GetProperty("Seed", all), "IHostEnvironmentInternal.Seed", core);
        Require(core.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal")?.GetProperty("GpuDeviceId", all), "IHostEnvironmentInternal.GpuDeviceId", core);
        Require(core.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal")?.GetProperty("FallbackToCpu", all), "IHostEnvironmentInternal.FallbackToCpu", core);
        Require(typeof(SchemaShape.Column).GetConstructor(all, [typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape)]),
            "SchemaShape.Column(string, VectorKind, DataViewType, bool, SchemaShape)", core);
        Require(typeof(ModelSaveContext).GetMethod("SetVersionInfo", all), "ModelSaveContext.SetVersionInfo", core);
        Require(typeof(ModelSaveContext).GetMethod("SaveBinaryStream", all), "ModelSaveContext.SaveBinaryStream", core);
        Require(typeof(ModelSaveContext).GetMethod("CheckAtModel", all), "ModelSaveContext.CheckAtModel", core);
        var loadContext = core.GetType("Microsoft.ML.ModelLoadContext");
        Require(loadContext?.GetMethod("TryLoadBinaryStream", all), "ModelLoadContext.TryLoadBinaryStream", core);
        Require(loadContext?.GetMethod("CheckAtModel", all, [core.GetType("Microsoft.ML.VersionInfo")!]), "ModelLoadContext.CheckAtModel(VersionInfo)", core);
        Require(core.GetType("Microsoft.ML.VersionInfo")?.GetConstructor(all,
            [typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)]), "VersionInfo constructor", core);
        Require(core.GetType("Microsoft.ML.LoadableClassAttribute"), "LoadableClassAttribute", core);
        Require(core.GetType("Microsoft.ML.SignatureLoadModel"), "SignatureLoadModel", core);
        Require(core.GetType("Microsoft.ML.Runtime.Contracts")?.GetMethod("CheckAlive", all, [typeof(IHostEnvironment)]), "Contracts.CheckAlive", core);
    }

    private static void Require(object? member, string name, Assembly assembly)
    {
        if (member is null)
        {
            throw new InvalidOperationException(
                $"ML.LeastSquaresQuant needs the ML.NET internal member {name}, which {assembly.GetName().Name} " +
                $"{assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion} does not have. " +
                "This library is built for Microsoft.ML 5.0.1 exactly.");
        }
    }
}
