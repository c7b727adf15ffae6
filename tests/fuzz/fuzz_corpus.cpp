// Fuzzes corpus loading, the input as the file or behind a valid seal (see fuzz_checkpoint.cpp).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_input_file.h"
#include "fuzz_seal.h"
#include "data/corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tg::fuzz::input_file(tg::fuzz::file_bytes("corpus", data, size), "corpus.h5");
  try {
    tg::load_corpus(path);
  } catch (const tg::UserError&) {
  }
  return 0;
}
