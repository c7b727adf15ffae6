#pragma once
// What the fault tests share: a small corpus and run configs, comparison of two
// runs' final states bit for bit, and the rows of docs/reliability.md.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../test_data.h"
#include "core/error.h"
#include "core/sealed_file.h"
#include "process.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/run_config.h"

namespace tg::faults {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_file;

// A run of `steps` steps of a tiny TokenFormer with a checkpoint after every step.
inline std::string train_config(const std::string& data, int64_t steps, const std::string& train_extra = "") {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "qkv_tokens": 8, "proj_tokens": 8,
              "ffn_tokens": 32},
    "train": {"steps": )" + std::to_string(steps) + R"(, "batch_size": 4, "lr": 3e-3, "warmup_steps": 2,
              "log_every": 4, "eval_every": 8, "eval_batches": 2, "checkpoint_every": 1,
              "keep_checkpoints": 2)" + train_extra + "}}";
}

// An experiment config of a tiny model: one recipe of one stage trained on `tokens`
// tokens, and one from-scratch frontier run of `frontier_budget` times its FLOPs.
inline std::string one_recipe_experiment(const std::string& data, int64_t checkpoint_every, int64_t tokens,
                                         int64_t frontier_budget) {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
    "train": {"batch_size": 4, "eval_every": 1000, "checkpoint_every": )" + std::to_string(checkpoint_every) + R"(},
    "seeds": [0],
    "recipes": [{"name": "r", "stages": [{"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": )" +
         std::to_string(tokens) + R"(}]}],
    "baselines": {"frontier_budgets": [)" + std::to_string(frontier_budget) + R"(], "stage_sizes": false, "transformer": false}})";
}

// A corpus and a config file in a fresh directory.
struct RunSetup {
  TempDir dir;
  std::string data, config;
  explicit RunSetup(const std::string& tag, int64_t steps, const std::string& train_extra = "")
      : dir(tag), data(testing::make_corpus(dir, 60000)), config(dir.file("run.json")) {
    write_file(config, train_config(data, steps, train_extra));
  }
  std::string run_dir(const std::string& name) const { return dir.file(name); }
};

// The command a user re-runs after a crash: resume if there is a checkpoint,
// otherwise start again.
inline std::vector<std::string> train_or_resume(const RunSetup& s, const std::string& run_dir) {
  if (fs::exists(fs::path(run_dir) / "latest.h5")) return {"train", "--resume", run_dir, "--threads", "2"};
  return {"train", "--config", s.config, "--out", run_dir, "--threads", "2"};
}

// Every sealed file and journal in a run directory verifies: at no instant is a
// damaged checkpoint or log visible under its final name.
inline void require_every_file_sound(const std::string& run_dir) {
  if (!fs::exists(run_dir)) return;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".journal") {  // a bad end (a cut-short append) is recovered, damage is not
      INFO(entry.path().string());
      REQUIRE(metrics_journal_problem(entry.path().string()).empty());
    }
    if (entry.path().extension() != ".h5") continue;
    const std::string kind = name == "metrics.h5" ? "metrics" : "checkpoint";
    INFO(entry.path().string());
    REQUIRE(seal_problem(entry.path().string(), kind).empty());
  }
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

// Two checkpoints hold the same model, optimizer and training state, bit for bit
// (wall time aside).
inline void require_same_checkpoint(const std::string& a, const std::string& b, bool with_optimizer = true) {
  TrainState sa, sb;
  auto ma = load_model(a, &sa), mb = load_model(b, &sb);
  REQUIRE(ma->parameters().size() == mb->parameters().size());
  for (size_t i = 0; i < ma->parameters().size(); ++i) {
    INFO(ma->parameters()[i]->name);
    REQUIRE(same_bits(ma->parameters()[i]->value, mb->parameters()[i]->value));
  }
  for (size_t i = 0; i < ma->pattentions().size(); ++i) REQUIRE(ma->pattentions()[i]->tau() == mb->pattentions()[i]->tau());
  REQUIRE(sa.step == sb.step);
  REQUIRE(sa.tokens == sb.tokens);
  REQUIRE(sa.flops == sb.flops);
  REQUIRE(sa.data_rng == sb.data_rng);
  REQUIRE(sa.log_loss_sum == sb.log_loss_sum);
  if (!with_optimizer) return;
  const RunConfig config = parse_run_config(read_checkpoint_config(a), a);
  AdamW oa(config.train.adamw, ma->parameters()), ob(config.train.adamw, mb->parameters());
  load_checkpoint(a, *ma, &oa, &sa);
  load_checkpoint(b, *mb, &ob, &sb);
  for (auto& [name, s] : oa.states()) {
    INFO("optimizer " << name);
    REQUIRE(same_bits(s.exp_avg, ob.state(name).exp_avg));
    REQUIRE(same_bits(s.exp_avg_sq, ob.state(name).exp_avg_sq));
    REQUIRE(s.row_steps == ob.state(name).row_steps);
  }
}

// Two metrics logs hold the same rows (wall time aside; NaN equals NaN).
inline void require_same_metrics(const std::string& a, const std::string& b) {
  const auto ra = MetricsLog(a).read(), rb = MetricsLog(b).read();
  REQUIRE(ra.size() == rb.size());
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  for (size_t i = 0; i < ra.size(); ++i) {
    INFO("row " << i << " (step " << ra[i].step << ")");
    REQUIRE(ra[i].step == rb[i].step);
    REQUIRE(ra[i].tokens == rb[i].tokens);
    REQUIRE(same(ra[i].train_loss, rb[i].train_loss));
    REQUIRE(same(ra[i].val_loss, rb[i].val_loss));
    REQUIRE(ra[i].lr == rb[i].lr);
    REQUIRE(ra[i].flops == rb[i].flops);
  }
}

// Replaces every occurrence of the test's temporary directory in a message, so
// the observed text is the same on every machine.
inline std::string without_dir(std::string text, const TempDir& dir) {
  const std::string prefix = dir.path().string() + "/";
  for (size_t pos; (pos = text.find(prefix)) != std::string::npos;) text.replace(pos, prefix.size(), "");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// `text` with what lies between `before` and the next `after` replaced by `placeholder`:
// the machine's own figures (cores, free memory) out of a row of the doc.
inline std::string with_placeholder(std::string text, const std::string& before, const std::string& after,
                                    const std::string& placeholder) {
  const size_t start = text.find(before);
  if (start == std::string::npos) return text;
  const size_t from = start + before.size(), end = text.find(after, from);
  if (end == std::string::npos) return text;
  return text.replace(from, end - from, placeholder);
}

// One row of the table in docs/reliability.md, written where the doc check finds
// it (the build's reliability-rows/); `id` orders the rows. Called after the
// test's assertions: what a row says is what the test checked, so the doc is the
// output of the tests.
inline void record_row(const std::string& id, const std::string& area, const std::string& fault,
                       const std::string& observed) {
  const std::string dir = TOKENGROW_RELIABILITY_ROWS;
  fs::create_directories(dir);
  auto cell = [](std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    for (size_t pos = 0; (pos = s.find('|', pos)) != std::string::npos; pos += 2) s.replace(pos, 1, "\\|");
    return s;
  };
  std::ofstream(fs::path(dir) / (id + ".md")) << "| " << id << " | " << cell(area) << " | " << cell(fault) << " | "
                                              << cell(observed) << " |\n";
}

}  // namespace tg::faults
