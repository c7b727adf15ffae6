#pragma once
// Checkpoint files (HDF5); the layout is documented in docs/checkpoint-format.md.
//   attribute /config          the run config as JSON
//   attribute /tokenizer       the tokenizer of the training corpus (TrainState::tokenizer)
//   /model/<parameter name>    float32, e.g. /model/layers/0/ffn/keys (n x d_in)
//     each Pattention group (/model/layers/<i>/attn/query, ...) has attributes
//     tau (float) and normalization (string)
//   /optimizer/exp_avg/<name>, /optimizer/exp_avg_sq/<name>, /optimizer/row_steps/<name>
//   /state/{step, stage, stage_start_step, tokens, flops, wall_s, data_rng}, and the
//     corpus checksum (attributes corpus_crc32, corpus_train_tokens, corpus_val_tokens)
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "model/language_model.h"
#include "train/adamw.h"
#include "train/train_state.h"

namespace tg {

// The bytes of a checkpoint: a sealed file (core/sealed_file.h); `name` labels errors.
std::vector<char> checkpoint_bytes(const std::string& name, const nlohmann::json& config, LanguageModel& model,
                                   AdamW* optimizer, const TrainState& state);

// Writes checkpoint_bytes() under a temporary name and publishes them atomically: an
// existing file is replaced only by a complete one (or, with Publish::Exclusive, not at
// all: UserError if `path` exists or appears meanwhile).
void save_checkpoint(const std::string& path, const nlohmann::json& config, LanguageModel& model, AdamW* optimizer,
                     const TrainState& state, Publish publish = Publish::Replace);

// The /config attribute of a checkpoint. Every reader verifies the seal first: a
// truncated, damaged or foreign file is a UserError naming the file and the fault.
nlohmann::json read_checkpoint_config(const std::string& path);

// Loads parameters (shapes must match the model), and optimizer moments and train
// state when the pointers are non-null.
void load_checkpoint(const std::string& path, LanguageModel& model, AdamW* optimizer, TrainState* state);

// The train state alone (/state).
TrainState read_checkpoint_state(const std::string& path);

// Builds the model described by the checkpoint's config and loads its parameters
// (and the train state, if state is non-null).
std::unique_ptr<LanguageModel> load_model(const std::string& path, TrainState* state = nullptr);

}  // namespace tg
