// Fuzzes corpus loading, as given and behind a valid seal (see fuzz_checkpoint.cpp).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_input_file.h"
#include "fuzz_seal.h"
#include "train/corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const bool seal : {false, true}) {
    const std::string bytes = seal ? tg::fuzz::sealed("corpus", data, size) : std::string(data, data + size);
    const std::string path = tg::fuzz::input_file(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                                  "corpus.h5");
    try {
      tg::load_corpus(path);
    } catch (const tg::UserError&) {
    }
  }
  return 0;
}
