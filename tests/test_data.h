#pragma once
// Small text corpora and temporary directories made by the tests themselves.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "core/log.h"
#include "core/rng.h"
#include "core/error.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"
#include "train/run_config.h"
#include "user_error_check.h"

namespace tg::testing {

// Sentences from a tiny grammar: highly predictable given context, but with a
// unigram byte entropy of about 4 bits, so a model that learns context beats it clearly.
inline std::string make_text(uint64_t seed, size_t min_bytes) {
  const char* subjects[] = {"the cat", "a dog", "my friend", "the old man", "she", "we"};
  const char* verbs[] = {"sees", "likes", "walks to", "finds", "remembers"};
  const char* objects[] = {"the river", "a red house", "the garden", "an apple", "the moon", "our school"};
  Rng rng(seed);
  std::string text;
  while (text.size() < min_bytes) {
    text += subjects[rng.below(6)];
    text += ' ';
    text += verbs[rng.below(5)];
    text += ' ';
    text += objects[rng.below(6)];
    text += ".\n";
  }
  return text;
}

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    Rng rng(std::hash<std::string>{}(tag) ^ static_cast<uint64_t>(std::filesystem::file_time_type::clock::now().time_since_epoch().count()));
    path_ = std::filesystem::temp_directory_path() / ("tokengrow_test_" + tag + "_" + std::to_string(rng.next_u64() % 1000000000));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A logger whose terminal is a string, warnings and errors included, for the code
// that logs (core/log.h): pass it where a spdlog::logger& goes, read it with str().
struct CapturedLog {
  std::ostringstream text;
  spdlog::logger log = make_logger(text, text);
  operator spdlog::logger&() { return log; }
  std::string str() const { return text.str(); }
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Writes a generated text and prepares a corpus from it; returns the corpus path.
inline std::string make_corpus(const TempDir& dir, size_t bytes = 200000, double val_fraction = 0.1) {
  const std::string text_path = dir.file("text.txt"), corpus_path = dir.file("corpus.h5");
  write_file(text_path, make_text(1, bytes));
  prepare_corpus({text_path}, corpus_path, val_fraction);
  return corpus_path;
}

// An experiment's summary.csv without the wall_s column (the only figure that
// depends on timing), for comparing an interrupted experiment with a straight one.
inline std::string summary_without_wall_time(const std::string& dir) {
  std::ifstream in(dir + "/summary.csv");
  std::string line, out;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    cells.erase(cells.begin() + 11);  // wall_s
    for (const auto& c : cells) out += c + ",";
    out += "\n";
  }
  return out;
}

// A 2-layer d 32 TokenFormer on `corpus`, small enough to train in a test.
inline RunConfig small_run(const std::string& corpus, int64_t steps) {
  RunConfig r;
  r.data_path = corpus;
  r.model.d_model = 32;
  r.model.n_layers = 2;
  r.model.n_heads = 2;
  r.model.seq_len = 32;
  r.model.qkv_tokens = 16;
  r.model.proj_tokens = 16;
  r.model.ffn_tokens = 64;
  r.train.steps = steps;
  r.train.batch_size = 8;
  r.train.lr = 3e-3;
  r.train.min_lr = 3e-4;
  r.train.warmup_steps = 5;
  r.train.log_every = 5;
  r.train.eval_every = 10;
  r.train.eval_batches = 2;
  r.train.seed = 7;
  return r;
}

}  // namespace tg::testing
