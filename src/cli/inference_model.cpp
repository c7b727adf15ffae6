#include "cli/inference_model.h"

#include "core/error.h"
#include "train/checkpoint.h"
#include "inference/packed_model.h"

namespace tg {

InferenceModel load_inference_model(const cxxopts::ParseResult& args, const std::string& command) {
  if (args.count("ckpt") == args.count("packed"))
    throw UserError("tokengrow " + command + ": give exactly one of --ckpt or --packed");
  InferenceModel m;
  m.packed = args.count("packed") > 0;
  m.path = args[m.packed ? "packed" : "ckpt"].as<std::string>();
  m.model = m.packed ? load_packed_model(m.path, &m.state) : load_model(m.path, &m.state);
  return m;
}

}  // namespace tg
