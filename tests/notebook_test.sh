#!/usr/bin/env bash
# Runs a small experiment on text the project ships (its own docs), then executes
# notebooks/growth_analysis.ipynb headless on it and draws the figure with
# experiments/plot.py; fails if either fails or produces no figure (the growth curves, and
# the IsoFLOP and envelope figure of its scaling sweep).
set -euo pipefail
TOKENGROW="$1"
SOURCE_DIR="$2"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat "$SOURCE_DIR"/README.md "$SOURCE_DIR"/docs/*.md > "$WORK/text.txt"
"$TOKENGROW" prepare --text "$WORK/text.txt" --out "$WORK/data.h5" --val-fraction 0.1 > /dev/null
cat > "$WORK/e.json" <<JSON
{"data": "$WORK/data.h5",
 "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
 "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "log_every": 10, "eval_every": 10, "eval_batches": 2},
 "seeds": [0],
 "recipes": [{"name": "ref", "stages": [
   {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
   {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560}]}],
 "baselines": {"frontier_budgets": [0.5, 1, 1.5], "stage_sizes": false, "transformer": true},
 "scaling": {"sizes": [{"name": "s4", "model": {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8}},
                       {"name": "s8", "model": {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16}},
                       {"name": "s16", "model": {"qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 32}}],
             "budgets": ["0.5x", "1x", "2x"], "warmup_fraction": 0.05}}
JSON
"$TOKENGROW" experiment "$WORK/e.json" --out "$WORK/exp" --threads 2 --bootstrap 20 > "$WORK/experiment.log"

# Executed in place (the kernel runs in notebooks/, finding experiments/ beside it);
# the executed copy goes to the temporary directory.
TOKENGROW_EXPERIMENT="$WORK/exp" MPLBACKEND=Agg jupyter-nbconvert --to notebook --execute \
  --ExecutePreprocessor.timeout=300 --output-dir "$WORK" --output nb_out \
  "$SOURCE_DIR/notebooks/growth_analysis.ipynb" 2> "$WORK/nbconvert.log" || { cat "$WORK/nbconvert.log"; exit 1; }
grep -q '"image/png"' "$WORK/nb_out.ipynb" || { echo "notebook produced no figure"; exit 1; }
grep -q '| ref | 1 |' "$WORK/nb_out.ipynb" || { echo "notebook produced no recipe table"; exit 1; }
[ "$(grep -c '"image/png"' "$WORK/nb_out.ipynb")" -ge 2 ] || { echo "notebook drew no scaling figure"; exit 1; }
grep -q 'Scaling sweep: IsoFLOP table' "$WORK/nb_out.ipynb" || { echo "notebook showed no IsoFLOP table"; exit 1; }

/usr/bin/python3 "$SOURCE_DIR/experiments/plot.py" "$WORK/exp" --out "$WORK/growth.png"
test -s "$WORK/growth.png"
test -s "$WORK/scaling.png" || { echo "plot.py drew no scaling.png"; exit 1; }
echo "1 passed, 0 failed"
