#!/usr/bin/env bash
# From a fresh Debian 12 machine: install, build, prepare the default corpus (the
# King James Bible from the bible-kjv package) and run the default job
# (configs/quickstart.json). Re-running continues or re-reports the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

mkdir -p data runs
if [ ! -f data/kjv.h5 ]; then
  echo "quickstart: preparing data/kjv.h5 from the bible-kjv package"
  bible "gen1:1-rev22:21" > data/kjv.txt
  build/tokengrow prepare --text data/kjv.txt --out data/kjv.h5 --val-fraction 0.05
fi

if [ -f runs/quickstart/latest.h5 ]; then
  build/tokengrow train --config configs/quickstart.json --out runs/quickstart --resume
else
  build/tokengrow train --config configs/quickstart.json --out runs/quickstart
fi
echo
echo "quickstart: held-out loss of the final model on the whole validation split"
build/tokengrow eval --ckpt runs/quickstart/latest.h5 --data data/kjv.h5
echo
echo "quickstart: a sample"
build/tokengrow sample --ckpt runs/quickstart/latest.h5 --prompt "And God said" --tokens 200 --top-k 8 --seed 1
