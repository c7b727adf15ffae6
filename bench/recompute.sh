#!/usr/bin/env bash
# Activation checkpointing on the 113M TokenFormer (configs/bench/tokenformer-113m-seq*.json):
# peak memory and tokens/s of `tokengrow bench` for every recompute mode, fp32 and bf16, at
# seq 1024 (batch 4) and seq 2048 (batch 2). One process per row, one after the other, so each
# peak memory is its own. Usage: bash bench/recompute.sh [STEPS] (default 3 timed steps).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-3}
# bf16 only where oneDNN has bf16 kernels on this CPU (AVX-512).
precisions=fp32
build/tokengrow --version | grep -q "bf16 matmuls available" && precisions="fp32 bf16"
printf '%-6s %-5s %-9s %12s %10s %14s %12s %14s\n' seq prec recompute "peak MiB" "tokens/s" "ms/step" "state MiB" "faults/step"
for seq in 1024 2048; do
  for precision in $precisions; do
    for mode in none attention block; do
      json=$(build/tokengrow bench --config "configs/bench/tokenformer-113m-seq$seq.json" --precision "$precision" \
               --recompute "$mode" --steps "$steps" --warmup 1 --skip-peak --json --quiet)
      /usr/bin/python3 - "$seq" "$precision" "$mode" "$json" <<'PY'
import json, sys
seq, prec, mode, j = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
print(f"{seq:<6} {prec:<5} {mode:<9} {j['peak_rss_bytes'] / 2**20:12.0f} {j['tokens_per_s']:10.0f} "
      f"{j['median_step_s'] * 1e3:14.0f} {j['state_bytes'] / 2**20:12.0f} {j['page_faults_per_step']:14.0f}")
PY
    done
  done
done
