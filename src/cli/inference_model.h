#pragma once
// The model `eval` and `sample` run: a checkpoint (--ckpt, the training forward) or a
// packed model file (--packed, from `tokengrow export --format packed`: int8 kernels,
// inference/packed_model.h). Exactly one of the two flags.
#include <memory>
#include <string>

#include <cxxopts.hpp>

#include "model/language_model.h"
#include "train/train_state.h"

namespace tg {

struct InferenceModel {
  std::unique_ptr<LanguageModel> model;
  TrainState state;  // a packed file fills the tokenizer and step only
  std::string path;  // the file read
  bool packed = false;
};

// UserError "tokengrow <command>: give exactly one of --ckpt or --packed" otherwise.
InferenceModel load_inference_model(const cxxopts::ParseResult& args, const std::string& command);

}  // namespace tg
