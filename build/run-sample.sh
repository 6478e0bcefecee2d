#!/usr/bin/env bash
# THE main job: machine set-up, then the Fashion-MNIST sample (teacher, distilled ls-2/ls-1 student, evaluation,
# save/load, single-image scoring, comparison table). Arguments go to the sample (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
dotnet run -c Release --project samples/FashionMnistQuantization -- "$@"
