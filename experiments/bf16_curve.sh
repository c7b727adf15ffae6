#!/usr/bin/env bash
# bf16 mixed precision against fp32 on a real training run: the quick-start model
# (d 128, 4 layers, 32/32/128 parameter tokens, batch 16, seq 128, lr 2e-3) trained for
# 600 steps on the KJV corpus in both precisions with seeds 0 and 1, then the final
# validation losses side by side. bf16 passes if its losses lie within the seed-to-seed
# spread of fp32. About 4 minutes on 2 cores.
#
#   bash experiments/bf16_curve.sh [OUT_DIR]     (default runs/bf16-curve; needs data/kjv.h5
#                                                 from scripts/quickstart.sh and a build)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bf16-curve}
bin=build/tokengrow
[[ -x $bin ]] || { echo "bf16_curve: $bin is missing: run bash scripts/build.sh first" >&2; exit 1; }
[[ -f data/kjv.h5 ]] || { echo "bf16_curve: data/kjv.h5 is missing: run bash scripts/quickstart.sh first" >&2; exit 1; }
mkdir -p "$out"
for precision in fp32 bf16; do
  for seed in 0 1; do
    run="$out/$precision-seed$seed"
    if [[ -f $run/latest.h5 ]]; then echo "$run: done before, kept"; continue; fi
    cat > "$out/$precision-seed$seed.json" <<JSON
{"description": "bf16 vs fp32 curve check: quick-start model, $precision, seed $seed",
 "data": "data/kjv.h5",
 "model": {"architecture": "tokenformer", "d_model": 128, "n_layers": 4, "n_heads": 4, "seq_len": 128,
           "qkv_tokens": 32, "proj_tokens": 32, "ffn_tokens": 128, "precision": "$precision"},
 "train": {"steps": 600, "batch_size": 16, "lr": 2e-3, "min_lr": 2e-4, "warmup_steps": 50, "seed": $seed,
           "log_every": 100, "eval_every": 100, "eval_batches": 16, "keep_checkpoints": 1}}
JSON
    echo "== $precision, seed $seed"
    "$bin" train --config "$out/$precision-seed$seed.json" --out "$run"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import math, sys, h5py
out = sys.argv[1]
print("\nfinal validation loss after 600 steps")
print("| precision | seed 0 | seed 1 |\n|---|---|---|")
for precision in ("fp32", "bf16"):
    losses = []
    for seed in (0, 1):
        with h5py.File(f"{out}/{precision}-seed{seed}/metrics.h5", "r") as f:
            losses.append([v for v in f["val_loss"][:] if not math.isnan(v)][-1])
    print(f"| {precision} | {losses[0]:.4f} | {losses[1]:.4f} |")
PY
