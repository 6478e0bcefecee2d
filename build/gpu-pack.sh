#!/usr/bin/env bash
# Packs one .NET project of this repository so that it runs on a Linux GPU machine that has PyTorch with CUDA
# but no .NET SDK (see docs/gpu.md).
#
#   usage, from anywhere in the checkout:  bash build/gpu-pack.sh path/to/Project.csproj [extra dotnet publish args]
#   result:  .gpukit/ at the repository root (git-ignored), holding
#              dotnet-rt.tar.xz  this machine's .NET runtime, compressed (made once, reused by later packs)
#              app/              the project, published framework-dependent for linux-x64, without libtorch's
#                                own native libraries (the GPU machine's PyTorch CUDA build is used instead)
#              app.name          the name of the app's entry assembly
#              run.sh            the launcher: on the GPU machine run  bash .gpukit/run.sh [app args]
#
# Only one app is in a kit at a time: packing another project replaces app/ and keeps the runtime.
set -euo pipefail

say() { printf 'gpu-pack: %s\n' "$*"; }

proj=${1:?usage: bash build/gpu-pack.sh path/to/Project.csproj [extra dotnet publish args]}
shift
[ -f "$proj" ] || { say "no such project file: $proj"; exit 2; }
proj=$(cd "$(dirname "$proj")" && pwd)/$(basename "$proj")

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kit="$root/.gpukit"
mkdir -p "$kit"
# .gitignore already lists .gpukit/; check it so that a kit never ends up committed by accident.
if ! git -C "$root" check-ignore -q "$kit" 2>/dev/null; then
  say "WARNING: .gpukit/ is not ignored by git here; do not commit it"
fi

# 1. The .NET runtime of this machine (host + Microsoft.NETCore.App), compressed once (~27 MB).
dotnet_bin=$(command -v dotnet) || { say "dotnet is not on PATH"; exit 1; }
dotnet_root=$(dirname "$(readlink -f "$dotnet_bin")")
runtime_version=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" {v = $2} END {print v}')
[ -n "$runtime_version" ] || { say "no Microsoft.NETCore.App runtime found under $dotnet_root"; exit 1; }
if [ ! -s "$kit/dotnet-rt.tar.xz" ] || [ "$(cat "$kit/dotnet-rt.version" 2>/dev/null)" != "$runtime_version" ]; then
  say "compressing the .NET runtime $runtime_version from $dotnet_root (once; about a minute)"
  tar -C "$dotnet_root" -cf - dotnet host "shared/Microsoft.NETCore.App/$runtime_version" \
    | xz -T2 -6 > "$kit/dotnet-rt.tar.xz.tmp"
  mv "$kit/dotnet-rt.tar.xz.tmp" "$kit/dotnet-rt.tar.xz"
  echo "$runtime_version" > "$kit/dotnet-rt.version"
else
  say "reusing the compressed .NET runtime $runtime_version"
fi

# 2. The app, framework-dependent, no apphost (the launcher runs it with the unpacked runtime).
rm -rf "$kit/app"
log=$(mktemp)
say "publishing $(basename "$proj") (Release, linux-x64)"
if ! dotnet publish "$proj" -c Release -r linux-x64 --self-contained false -p:UseAppHost=false \
     -o "$kit/app" -nologo "$@" >"$log" 2>&1; then
  grep -iE ' error ' "$log" | head -20 || true
  say "dotnet publish failed (full log: $log)"
  exit 1
fi
rm -f "$log"

# 3. Drop what the GPU machine must not or need not load:
#    libtorch's CPU-only native libraries (its PyTorch provides the CUDA build; libLibTorchSharp.so stays),
find "$kit/app" \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' -o -name 'libshm.so' \
  -o -name 'libbackend_with_compiler.so' -o -name 'libjitbackend_test.so' -o -name 'libnnapi_backend.so' \
  -o -name 'libaoti_custom_ops.so' -o -name 'libtorchbind_test.so' \) -delete
#    natives for other platforms,
find "$kit/app" -path '*/runtimes/*' -not -path '*linux-x64*' -type f -delete
find "$kit/app" -depth -path '*/runtimes/*' -type d -empty -delete
#    and, for test projects, code-coverage engines, satellite translations, XML docs and symbols.
rm -rf "$kit/app/Microsoft.CodeCoverage" "$kit/app/libInstrumentationEngine.so"
find "$kit/app" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[a-z]{2}(-[A-Za-z]{2,4})?' \
  -exec rm -rf {} +
find "$kit/app" \( -name '*.xml' -o -name '*.pdb' \) -delete

app=$(basename "${proj%.*}")
[ -f "$kit/app/$app.dll" ] || { say "published, but $app.dll is not in $kit/app"; exit 1; }
echo "$app" > "$kit/app.name"

# 4. The launcher that runs on the GPU machine.
cat > "$kit/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the app packed by build/gpu-pack.sh on a GPU machine without .NET. Arguments go to the app.
# TorchSharp loads the CUDA build of libtorch that comes with the machine's PyTorch.
set -euo pipefail
kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(cat "$kit/dotnet-rt.version")
runtime="${LSQUANT_DOTNET_DIR:-/tmp/lsquant-dotnet-$version}"
if [ ! -x "$runtime/dotnet" ]; then
  mkdir -p "$runtime.partial"
  tar -xJf "$kit/dotnet-rt.tar.xz" -C "$runtime.partial"
  rm -rf "$runtime" && mv "$runtime.partial" "$runtime"
fi
if [ -z "${LSQUANT_TORCH_LIB:-}" ]; then
  LSQUANT_TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') || {
    echo "run.sh: python3 cannot import torch; set LSQUANT_TORCH_LIB to the folder holding libtorch_cuda.so" >&2; exit 1; }
fi
export DOTNET_ROOT="$runtime" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH="$LSQUANT_TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$runtime/dotnet" "$kit/app/$(cat "$kit/app.name").dll" "$@"
RUN
chmod +x "$kit/run.sh"

size=$(du -sm "$kit" | cut -f1)
say "$kit holds $app, ${size} MiB in all"
say "on the GPU machine, with .gpukit/ copied along: bash .gpukit/run.sh <arguments for $app>"
