#!/usr/bin/env bash
# libFuzzer runs of the config parser and the checkpoint and corpus loaders
# (tests/fuzz), built with clang under AddressSanitizer + UndefinedBehaviorSanitizer.
#   bash scripts/fuzz.sh [--sealed] [SECONDS_PER_TARGET] [BUILD_DIR]
# CI runs 30 s per target (scripts/test.sh); for a real search run an hour or more:
#   bash scripts/fuzz.sh 3600
# --sealed fuzzes the loaders behind a valid seal instead (fuzz_*_sealed: the bytes reach
# libhdf5's parser); it finds crashes inside libhdf5 1.10 on crafted files
# (docs/reliability.md), so it is for local runs, not CI.
# Findings (crash-*, leak-*, timeout-* inputs) land in BUILD_DIR/fuzz-findings/ and the
# run fails; the corpus each target grows is kept in BUILD_DIR/fuzz-corpus/ for next time.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(config checkpoint corpus)
if [ "${1:-}" = "--sealed" ]; then
  targets=(checkpoint_sealed corpus_sealed)
  shift
fi
seconds=${1:-30}
build=${2:-build-sanitize}
source scripts/sanitize-env.sh
export LSAN_OPTIONS=suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0
# Full stacks for every allocation: libhdf5 is built without frame pointers, so the fast
# unwinder stops inside it and a leak's stack would lack the H5Fopen frame the suppression
# names (CI failed that way once, on a 56-byte H5Fopen leak).
export ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0
if [ ! -x "$build/fuzz_config" ]; then
  bash scripts/install-deps.sh --sanitizers
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTOKENGROW_SANITIZE=address,undefined -DTOKENGROW_FUZZ=ON > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" tokengrow >> "$build.log" 2>&1 \
  || { tail -50 "$build.log"; exit 1; }

# Seeds: the shipped configs, and a real corpus and checkpoint made here.
seeds=$build/fuzz-seeds
mkdir -p "$seeds/config" "$seeds/checkpoint" "$seeds/corpus" "$build/fuzz-findings"
cp configs/*.json "$seeds/config/"
if [ ! -f "$seeds/checkpoint/latest.h5" ]; then
  work=$(mktemp -d)
  head -c 20000 /usr/share/common-licenses/GPL-3 > "$work/text.txt"
  "$build/tokengrow" prepare --text "$work/text.txt" --out "$seeds/corpus/corpus.h5" --val-fraction 0.2 > /dev/null
  cat > "$work/run.json" <<JSON
{"data": "$seeds/corpus/corpus.h5",
 "model": {"d_model": 8, "n_layers": 1, "n_heads": 2, "seq_len": 8, "qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8},
 "train": {"steps": 2, "batch_size": 2, "warmup_steps": 1, "eval_batches": 1}}
JSON
  cp "$work/run.json" "$seeds/config/run.json"
  "$build/tokengrow" train --config "$work/run.json" --out "$work/run" > /dev/null
  cp "$work/run/latest.h5" "$seeds/checkpoint/latest.h5"
  rm -rf "$work"
fi

status=0
for target in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$target
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/fuzz_$target" "$corpus" "$seeds/${target%_sealed}" -max_total_time="$seconds" -max_len=65536 \
       -artifact_prefix="$build/fuzz-findings/$target-" -print_final_stats=1 > "$build/fuzz_$target.log" 2>&1; then
    echo "fuzz: $target FAILED; input saved in $build/fuzz-findings/, log: $build/fuzz_$target.log"
    sed -n "/==[0-9]*== *ERROR/,\$p" "$build/fuzz_$target.log" | head -80
    status=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$build/fuzz_$target.log" | tail -2 | sed "s/^/fuzz: $target: /"
  fi
done
exit $status
