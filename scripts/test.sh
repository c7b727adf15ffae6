#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#   1. the Release build (g++): every test through ctest: unit and gradient checks, CLI,
#      the fault-injection suite (whose output docs/reliability.md must be), the notebook;
#   2. the same suite built with clang under AddressSanitizer + UndefinedBehaviorSanitizer
#      (leak checks on), in build-sanitize/;
#   3. 30 s of libFuzzer on each of the config parser, checkpoint and corpus loaders.
# Installs what is missing first. `bash scripts/test.sh --quick` runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: bash scripts/test.sh [--quick]" >&2; exit 2 ;;
esac
start=$(date +%s)
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j 1
[ "$quick" = 1 ] && exit 0

echo "test: building the suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-sanitize/)"
source scripts/sanitize-env.sh
{ CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTOKENGROW_SANITIZE=address,undefined -DTOKENGROW_FUZZ=ON &&
  cmake --build build-sanitize -j "$(nproc)"; } > build-sanitize.log 2>&1 || { tail -50 build-sanitize.log; exit 1; }
ctest --test-dir build-sanitize --output-on-failure -j 1 --timeout 1800

echo "test: fuzzing (30 s per target; longer: bash scripts/fuzz.sh 3600)"
bash scripts/fuzz.sh 30 build-sanitize
echo "test: all passed in $(( ($(date +%s) - start) / 60 )) min"
