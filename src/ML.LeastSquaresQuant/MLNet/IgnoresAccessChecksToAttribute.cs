// The runtime honours this attribute (it is not part of the BCL's public surface): an assembly that carries it may
// call members of the named assemblies that are not public. See MLNetInternals.cs for why we need it.
namespace System.Runtime.CompilerServices;

[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute : Attribute
{
    public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

    public string AssemblyName { get; }
}
