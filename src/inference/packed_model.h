#pragma once
// The packed model file: a trained binary/ternary model for inference
// (docs/bitnet.md, "Inference: packed ternary weights"). A sealed HDF5 file
// (core/sealed_file.h, kind "packed_model"; truncation and damage are caught before
// HDF5 reads a byte), usually named *.tgq:
//   attributes /format ("tokengrow-packed-model"), /format_version (1), /config (the run
//     config as JSON, as in a checkpoint), /tokenizer... (data/tokenizer.h), /step
//   /packed/<parameter name>/levels   uint8, ceil(rows x cols / 4): the levels Q of every
//     Pattention key/value or Linear weight matrix at 2 bits each (layers/packed_levels.h)
//   /packed/<parameter name>/scales   float32, rows: their per-row scales
//   /packed/<Pattention group>        attributes tau, normalization
//   /model/<parameter name>           float32: everything else (embedding, final norm)
// Loaded, the levels become int8 once (layers/int8_weight.h) and the model's forward
// runs those products on int8 kernels, giving the logits of the training forward.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "model/language_model.h"
#include "train/train_state.h"

namespace tg {

// The bytes of the packed file of `model` (built from `config`, the checkpoint's JSON;
// its tokenizer and step from `state`). `name` labels errors. Float weights: UserError
// naming `name` and model.weights.
std::vector<char> packed_model_bytes(const std::string& name, const nlohmann::json& config, LanguageModel& model,
                                     const TrainState& state);

// Reads checkpoint `ckpt` and writes its packed file `out` (temporary file, fsync,
// rename; Publish::Exclusive refuses an existing `out`).
void write_packed_model(const std::string& ckpt, const std::string& out, Publish publish = Publish::Exclusive);

// Freezes every int8 weight of a binary/ternary model from its float parameters, as
// the training forward quantises them ("packed on load"); UserError for float weights.
void freeze_int8_weights(LanguageModel& model, const std::string& source);

// Reads a packed file: the model with frozen int8 weights (its float copies of those
// matrices released: forward only) and, if `state` is non-null, the tokenizer and step.
std::unique_ptr<LanguageModel> load_packed_model(const std::string& path, TrainState* state = nullptr);

}  // namespace tg
