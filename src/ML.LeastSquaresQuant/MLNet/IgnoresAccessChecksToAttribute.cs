// The runtime honours this attribute (it is not part of the BCL's public surface): an assembly that carries it may
// call members of the named assemblies that are not public. See MLNetInternals.cs for why we need it.
#pragma warning disable IDE0130 // the runtime looks for this attribute by its full name, so the namespace is fixed
namespace System.Runtime.CompilerServices;
#pragma warning restore IDE0130

[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute : Attribute
{
    public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

    public string AssemblyName { get; }
}
