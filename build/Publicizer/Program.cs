using System;
using System.IO;
using System.Linq;
using Mono.Cecil;

namespace ML.LeastSquaresQuant.Build;

/// <summary>
/// Usage: Publicizer OUTPUT_DIR ASSEMBLY...  — writes each assembly to OUTPUT_DIR with every type, method and
/// field public (compiler-generated members and event backing fields excepted), and without its strong-name
/// signature. The copies are compile-time references only.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: Publicizer OUTPUT_DIR ASSEMBLY...");
            return 2;
        }
        string output = args[0];
        Directory.CreateDirectory(output);
        var resolver = new DefaultAssemblyResolver();
        foreach (var dir in args.Skip(1).Select(Path.GetDirectoryName).Distinct())
        {
            resolver.AddSearchDirectory(dir);
        }
        foreach (var path in args.Skip(1))
        {
            string target = Path.Combine(output, Path.GetFileName(path));
            if (File.Exists(target) && File.GetLastWriteTimeUtc(target) >= File.GetLastWriteTimeUtc(path))
            {
                continue;
            }
            using var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver });
            foreach (var type in assembly.MainModule.GetTypes())
            {
                Publicize(type);
            }
            assembly.Name.HasPublicKey = true; // keep the identity so references still bind to the real assembly
            assembly.MainModule.Attributes &= ~ModuleAttributes.StrongNameSigned;
            assembly.Write(target);
            Console.WriteLine($"publicized {Path.GetFileName(path)}");
        }
        return 0;
    }

    private static void Publicize(TypeDefinition type)
    {
        if (type.IsNested)
        {
            type.IsNestedPublic = true;
        }
        else
        {
            type.IsPublic = true;
        }
        var eventNames = type.Events.Select(e => e.Name).ToHashSet();
        foreach (var method in type.Methods)
        {
            if (!method.IsCompilerControlled)
            {
                method.IsPublic = true;
            }
        }
        foreach (var field in type.Fields)
        {
            if (!field.Name.Contains('<') && !eventNames.Contains(field.Name) && !field.IsCompilerControlled)
            {
                field.IsPublic = true;
            }
        }
    }
}
