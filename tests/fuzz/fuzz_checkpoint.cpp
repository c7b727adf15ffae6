// Fuzzes checkpoint loading. Two halves of each input's life:
//   as given: the bytes are the file (exercises the seal check, which must refuse
//     everything damaged with a UserError);
//   sealed: the bytes are sealed as they are, as if a damaged HDF5 payload had been
//     written with a valid checksum (exercises HDF5 parsing and the loader's own
//     checks of shapes, attributes and JSON behind the seal).
// The only acceptable failure is a UserError.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_input_file.h"
#include "fuzz_seal.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const bool seal : {false, true}) {
    const std::string bytes = seal ? tg::fuzz::sealed("checkpoint", data, size) : std::string(data, data + size);
    const std::string path = tg::fuzz::input_file(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                                  "ckpt.h5");
    try {
      tg::TrainState state;
      tg::load_model(path, &state);
    } catch (const tg::UserError&) {
    }
  }
  return 0;
}
