#pragma once
// A small TokenFormer trained for 30 steps on generated text, its checkpoint in a temporary
// directory: the real, non-random model the growth tests (library and CLI) grow.
#include <memory>
#include <string>

#include "model/language_model.h"
#include "test_data.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace tg::testing {

struct Trained {
  TempDir dir{"growth"};
  std::string corpus;
  RunConfig config;
  std::unique_ptr<LanguageModel> model;
  std::unique_ptr<AdamW> optimizer;
  TrainState state;
};

// A small TokenFormer trained for 30 steps on generated text (so growth starts
// from a real, non-random model).
inline std::unique_ptr<Trained> trained_model(Engine& engine, PattentionNorm norm = PattentionNorm::L2NormGelu) {
  auto t = std::make_unique<Trained>();
  t->corpus = make_corpus(t->dir);
  RunConfig& rc = t->config;
  rc.data_path = t->corpus;
  rc.model.d_model = 16;
  rc.model.n_layers = 2;
  rc.model.n_heads = 2;
  rc.model.seq_len = 16;
  rc.model.qkv_tokens = 8;
  rc.model.proj_tokens = 8;
  rc.model.ffn_tokens = 16;
  rc.model.normalization = norm;
  rc.train.steps = 30;
  rc.train.batch_size = 8;
  rc.train.lr = 5e-3;
  rc.train.eval_every = 30;
  rc.train.log_every = 10;
  testing::CapturedLog log;
  Trainer trainer(rc, engine, log);
  trainer.run(t->dir.file("base"));
  t->model = std::make_unique<LanguageModel>(rc.model);
  t->optimizer = std::make_unique<AdamW>(rc.train.adamw, t->model->parameters());
  load_checkpoint(t->dir.file("base/latest.h5"), *t->model, t->optimizer.get(), &t->state);
  return t;
}

}  // namespace tg::testing
