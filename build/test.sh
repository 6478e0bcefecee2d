#!/usr/bin/env bash
# THE test command: machine set-up, restore, build, then the whole CPU test suite.
# Ends with one line "N passed, N failed[, N skipped]" counted from the TRX results.
set -euo pipefail
cd "$(dirname "$0")/.."

bash build/setup.sh

config=Release
results="$PWD/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results"

dotnet build ML.LeastSquaresQuant.sln -c "$config" -nologo -v q

# GPU tests run on the GPU machine only (see docs/gpu.md); everything else runs here.
# "--filter EXPR" narrows the run further (for example --filter "FullyQualifiedName~QuantScheme").
filter="TestCategory!=Gpu"
extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--filter" ] && [ $# -ge 2 ]; then filter="($filter)&($2)"; shift 2; else extra+=("$1"); shift; fi
done
set +e
dotnet "test/ML.LeastSquaresQuant.Tests/bin/$config/net10.0/ML.LeastSquaresQuant.Tests.dll" \
  --filter "$filter" --report-trx --report-trx-filename results.trx \
  --results-directory "$results" ${extra[@]+"${extra[@]}"}
status=$?
set -e

trx="$results/results.trx"
if [ ! -f "$trx" ]; then
  echo "no test results were written ($trx missing)"
  echo "0 passed, 1 failed"
  exit 1
fi
counters=$(grep -o -m 1 '<Counters [^>]*>' "$trx")
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
passed=$(get passed); failed=$(get failed); errors=$(get error); notrun=$(get notExecuted)
failed=$((failed + errors))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$notrun" -gt 0 ]; then
  echo "$passed passed, $failed failed, $notrun skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
