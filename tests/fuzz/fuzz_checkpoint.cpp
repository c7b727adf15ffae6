// Fuzzes checkpoint loading. Built twice (CMakeLists.txt):
//   fuzz_checkpoint: the input is the file. Exercises the seal check, which must refuse
//     every damaged file with a UserError before HDF5 parses a byte.
//   fuzz_checkpoint_sealed (TOKENGROW_FUZZ_BEHIND_SEAL): the input is sealed as it is, as
//     if a malformed HDF5 payload had been written with a valid checksum. Exercises
//     libhdf5's parser and the loader's own checks of shapes, attributes and JSON; it finds
//     crashes inside libhdf5 1.10 on crafted files (docs/reliability.md), so it is not part
//     of the CI run.
// The only acceptable failure is a UserError.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_input_file.h"
#include "fuzz_seal.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tg::fuzz::input_file(tg::fuzz::file_bytes("checkpoint", data, size), "ckpt.h5");
  try {
    tg::TrainState state;
    tg::load_model(path, &state);
  } catch (const tg::UserError&) {
  }
  return 0;
}
