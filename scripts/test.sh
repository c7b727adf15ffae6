#!/usr/bin/env bash
# The test suite, in two sizes:
#   bash scripts/test.sh         the quick check (a newcomer's first run): installs what is
#                                missing, builds Release (g++) and runs every test through
#                                ctest: unit and gradient checks, CLI, the fault-injection
#                                suite (whose output docs/reliability.md must be), MPI,
#                                PyTorch interop, the notebook.
#   bash scripts/test.sh --full  what CI runs (.ci/run): the quick check, then the tests
#                                labelled `full` (several hosts over TCP in network
#                                namespaces, tests/distributed/), then the same suite
#                                built with clang under AddressSanitizer +
#                                UndefinedBehaviorSanitizer (leak checks on) in
#                                build-sanitize/, then 30 s of libFuzzer on each of the config
#                                parser, checkpoint and corpus loaders.
# The sanitizer build compiles the whole library a second time, which alone takes longer than
# the quick check's budget, so it runs only with --full. ctest runs one test per core at
# once: most tests spend much of their time in one thread, process start-up or file I/O, and
# every test waits passively for its OpenMP threads (CMakeLists.txt), so two at once on two
# cores take about half the time of one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
case "${1:-}" in
  --full) full=1 ;;
  "") ;;
  *) echo "usage: bash scripts/test.sh [--full]" >&2; exit 2 ;;
esac
start=$(date +%s)
elapsed() { echo "$(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"; }

bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE full
echo "test: the Release suite passed after $(elapsed)"
if [ "$full" = 0 ]; then
  echo "test: for the whole suite (several hosts, sanitizers, fuzzing): bash scripts/test.sh --full"
  exit 0
fi

# -V: a skipped test's reason (e.g. no network namespaces here) is in its output.
ctest --test-dir build --output-on-failure -L full -V | grep -E "^[0-9]+: |tests passed|Skipped|Failed"

bash scripts/install-deps.sh --sanitizers
echo "test: building the suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-sanitize/)"
source scripts/sanitize-env.sh
{ CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTOKENGROW_SANITIZE=address,undefined -DTOKENGROW_FUZZ=ON &&
  cmake --build build-sanitize -j "$(nproc)"; } > build-sanitize.log 2>&1 || { tail -50 build-sanitize.log; exit 1; }
ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" --timeout 1800

echo "test: fuzzing (30 s per target; longer: bash scripts/fuzz.sh 3600)"
bash scripts/fuzz.sh 30 build-sanitize
echo "test: all passed in $(elapsed)"
