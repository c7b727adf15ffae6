#!/usr/bin/env bash
# Installs the Debian 12 packages tokengrow builds, tests and runs with.
# Skips apt entirely when everything is already installed.
#   --sanitizers  also clang and its runtimes, for the sanitizer and fuzzing builds of
#            `bash scripts/test.sh --full` (the quick check and the quick start need none)
#   --bench  also the packages of bench/compare_pytorch.py (OpenBLAS for PyTorch; large,
#            so not for the test suite or CI). libopenblas0-openmp: the OpenMP build of
#            OpenBLAS, which the script loads for PyTorch (the pthreads build's threads
#            fight PyTorch's OpenMP threads).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libdnnl-dev ocl-icd-opencl-dev            # oneDNN's CMake config requires OpenCL (GPU runtime)
  zlib1g-dev libeigen3-dev libhdf5-dev libcxxopts-dev libspdlog-dev nlohmann-json3-dev catch2
  bible-kjv                                   # the default corpus (King James Bible)
  dict-gcide                                  # with it, the english corpus (scripts/prepare-corpora.sh)
  libsentencepiece-dev                        # subword tokenizers (BPE, unigram) for prepare
  python3 python3-h5py python3-numpy python3-matplotlib  # plots (Debian's python3)
  libopenmpi-dev openmpi-bin openssh-client   # data-parallel training (mpirun; ssh reaches other nodes), and its tests
  iproute2                                    # the multi-host test rig (network namespaces, tc: tests/distributed/)
  jupyter-nbconvert python3-ipykernel python3-nbformat  # the analysis notebook, executed by the tests
  python3-torch                               # python/tokengrow_torch.py, export and import, and their tests
)
case "${1:-}" in
  --sanitizers) PACKAGES+=(clang libclang-rt-14-dev libomp-14-dev llvm) ;;  # libomp: clang's OpenMP runtime; llvm: the symbolizer
  --bench) PACKAGES+=(libopenblas0 libopenblas0-openmp) ;;  # the PyTorch side of bench/compare_pytorch.py
  "") ;;
  *) echo "usage: bash scripts/install-deps.sh [--sanitizers | --bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
