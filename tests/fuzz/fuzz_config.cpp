// Fuzzes the config parsers (run configs and experiment configs) with arbitrary
// bytes. The only acceptable failure is a UserError; anything else (another
// exception, a crash, undefined behaviour under UBSan) is a bug.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "experiment/experiment_config.h"
#include "fuzz_input_file.h"
#include "train/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tg::fuzz::input_file(std::string(reinterpret_cast<const char*>(data), size), "config.json");
  try {
    tg::load_run_config(path);
  } catch (const tg::UserError&) {
  }
  try {
    tg::load_experiment_config(path);
  } catch (const tg::UserError&) {
  }
  return 0;
}
