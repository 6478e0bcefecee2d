#!/usr/bin/env bash
# CPU training/evaluation throughput, ours and the reference's, back to back on this machine.
#   bash build/benchmark-cpu.sh [--ml-quant PATH]
# PATH: a checkout of https://github.com/apple/ml-quant; with it (and PyTorch importable by /usr/bin/python3, e.g.
# Debian's python3-torch) the reference's own QResNet is measured first in the same shapes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
ml_quant=""
if [[ "${1:-}" == "--ml-quant" ]]; then ml_quant="$2"; fi
if [[ -n "$ml_quant" ]]; then
  echo "== reference (apple/ml-quant, PyTorch) =="
  /usr/bin/python3 test/ML.LeastSquaresQuant.Benchmarks/reference/reference_cpu.py --ml-quant "$ml_quant"
fi
echo "== ML.LeastSquaresQuant (TorchSharp) =="
dotnet run -c Release --project test/ML.LeastSquaresQuant.Benchmarks -- --filter '*TrainingBenchmarks*'
