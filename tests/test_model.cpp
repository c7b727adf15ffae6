// The whole model: gradients, determinism, checkpoints and learning.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "gradcheck.h"
#include "model/language_model.h"
#include "test_data.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;

namespace {

ModelConfig tiny_model(Architecture arch, PattentionNorm norm = PattentionNorm::L2NormGelu) {
  ModelConfig c;
  c.architecture = arch;
  c.vocab_size = 11;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 5;
  c.qkv_tokens = 6;
  c.proj_tokens = 7;
  c.ffn_tokens = 12;
  c.ffn_hidden = 12;
  c.rotary_fraction = 0.5;
  c.normalization = norm;
  // Larger than the default 0.02 so gradients are well above finite-difference noise.
  c.init_std = 0.5;
  return c;
}

}  // namespace

TEST_CASE("Whole-model loss gradient matches finite differences", "[model][gradcheck]") {
  Engine engine(2);
  struct Case { Architecture arch; PattentionNorm norm; };
  const Case cases[] = {{Architecture::TokenFormer, PattentionNorm::L2NormGelu},
                        {Architecture::TokenFormer, PattentionNorm::GeluL2Norm},
                        {Architecture::TokenFormer, PattentionNorm::Softmax},
                        {Architecture::Transformer, PattentionNorm::L2NormGelu}};
  for (const Case& c : cases) {
    DYNAMIC_SECTION(to_string(c.arch) << " " << to_string(c.norm)) {
      LanguageModel model(tiny_model(c.arch, c.norm));
      Rng rng(3);
      model.init(rng);
      // Non-trivial final norm parameters, so their gradients are exercised too.
      fill_normal(*&model.find_parameter("final_norm/weight")->value, rng, 1.0f);
      fill_normal(*&model.find_parameter("final_norm/bias")->value, rng, 0.5f);
      const int64_t batch = 2, seq = 5;
      std::vector<int32_t> inputs(batch * seq), targets(batch * seq);
      for (auto& t : inputs) t = static_cast<int32_t>(rng.below(11));
      for (auto& t : targets) t = static_cast<int32_t>(rng.below(11));
      model.zero_grad();
      model.forward(engine, inputs, targets, batch, seq, true);
      model.backward(engine);
      auto loss = [&] { return model.forward(engine, inputs, targets, batch, seq, false); };
      for (Parameter* p : model.parameters())
        check_gradient(p->name, p->value.data(), p->grad.data(), p->value.numel(), loss, 1e-2, 2e-4, 2e-2);
    }
  }
}

TEST_CASE("Parameter names follow the checkpoint layout and counts are 16 d^2 per layer at default tokens",
          "[model]") {
  ModelConfig c;
  c.d_model = 16;
  c.n_layers = 3;
  c.n_heads = 2;
  c.qkv_tokens = c.proj_tokens = 16;
  c.ffn_tokens = 64;
  LanguageModel model(c);
  REQUIRE(model.find_parameter("embedding") != nullptr);
  REQUIRE(model.find_parameter("final_norm/weight") != nullptr);
  REQUIRE(model.find_parameter("layers/2/attn/proj/values") != nullptr);
  REQUIRE(model.find_parameter("layers/0/ffn/keys")->value.shape() == std::vector<int64_t>{64, 16});
  REQUIRE(model.pattentions().size() == 15);
  // Q, K, V, proj: 4 x 2 d^2; FFN: 2 x 4 d^2 -> 16 d^2 per layer.
  REQUIRE(model.n_params() == 3 * 16 * 16 * 16 + 256 * 16 + 2 * 16);
}

TEST_CASE("Parameters describe themselves: what each axis indexes, their optimizer group, their block",
          "[model]") {
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
    DYNAMIC_SECTION(to_string(arch)) {
      const ModelConfig c = tiny_model(arch);
      LanguageModel model(c);
      std::map<std::string, std::vector<Axis>> expected = {
          {"embedding", {Axis::Vocab, Axis::Model}},
          {"final_norm/weight", {Axis::Model}},
          {"final_norm/bias", {Axis::Model}}};
      for (const char* m : {"attn/query", "attn/key", "attn/value", "attn/proj", "ffn"}) {
        const std::string ffn = m;
        if (arch == Architecture::TokenFormer) {
          expected[ffn + "/keys"] = {Axis::Tokens, Axis::Model};
          expected[ffn + "/values"] = {Axis::Tokens, Axis::Model};
        } else if (ffn == "ffn") {
          expected["ffn/up/weight"] = {Axis::Hidden, Axis::Model};
          expected["ffn/down/weight"] = {Axis::Model, Axis::Hidden};
        } else {
          expected[ffn + "/weight"] = {Axis::Model, Axis::Model};
        }
      }
      size_t block_parameters = 0;
      for (const Parameter* p : model.parameters()) {
        INFO(p->name);
        REQUIRE(p->axes.size() == p->value.shape().size());
        const int64_t block = block_of(p->name);
        const std::string local = name_in_block(p->name);
        REQUIRE(expected.count(local) == 1);
        REQUIRE(p->axes == expected[local]);
        // Each axis's extent is what the config says it indexes.
        for (size_t k = 0; k < p->axes.size(); ++k) {
          const int64_t extent = p->value.shape()[k];
          switch (p->axes[k]) {
            case Axis::Model: REQUIRE(extent == c.d_model); break;
            case Axis::Vocab: REQUIRE(extent == c.vocab_size); break;
            case Axis::Hidden: REQUIRE(extent == c.ffn_hidden); break;
            case Axis::Tokens: REQUIRE((extent == c.qkv_tokens || extent == c.proj_tokens || extent == c.ffn_tokens)); break;
          }
        }
        REQUIRE(p->decays() == (local.find("norm") == std::string::npos));
        if (block >= 0) {
          ++block_parameters;
          REQUIRE(block < c.n_layers);
          REQUIRE(block_parameter_name(block, local) == p->name);
        }
      }
      REQUIRE(block_parameters == model.parameters().size() - 3);
    }
  }
  REQUIRE(block_of("layers/12/ffn/keys") == 12);
  REQUIRE(name_in_block("layers/12/ffn/keys") == "ffn/keys");
  REQUIRE(block_of("layersx/1/ffn") == -1);
  REQUIRE(block_of("layers//ffn") == -1);
  REQUIRE(block_of("layers/1a/ffn") == -1);
  REQUIRE(name_in_block("embedding") == "embedding");
}

TEST_CASE("Checkpoint save and load round trip is bit-exact", "[checkpoint]") {
  TempDir dir("ckpt");
  Engine engine(2);
  const ModelConfig mc = tiny_model(Architecture::TokenFormer);
  LanguageModel model(mc);
  Rng rng(1);
  model.init(rng);
  model.pattentions()[3]->set_tau(1.2345f);
  AdamW opt({}, model.parameters());
  // Take two optimizer steps so moments and step counts are non-trivial.
  std::vector<int32_t> in(10, 1), tgt(10, 2);
  for (int i = 0; i < 2; ++i) {
    model.zero_grad();
    model.forward(engine, in, tgt, 2, 5, true);
    model.backward(engine);
    opt.step(1e-2);
  }
  TrainState state;
  state.step = 2;
  state.tokens = 20;
  state.flops = 1.5e9;
  state.data_rng = {1, 2, 3, ~uint64_t{0}};
  RunConfig rc;
  rc.model = mc;
  save_checkpoint(dir.file("c.h5"), rc.to_json(), model, &opt, state);

  LanguageModel loaded(mc);
  AdamW loaded_opt({}, loaded.parameters());
  TrainState loaded_state;
  load_checkpoint(dir.file("c.h5"), loaded, &loaded_opt, &loaded_state);
  for (Parameter* p : model.parameters()) {
    Parameter* q = loaded.find_parameter(p->name);
    REQUIRE(std::memcmp(p->value.data(), q->value.data(), p->value.bytes()) == 0);
    const AdamWState& a = opt.state(p->name);
    const AdamWState& b = loaded_opt.state(p->name);
    REQUIRE(std::memcmp(a.exp_avg.data(), b.exp_avg.data(), a.exp_avg.bytes()) == 0);
    REQUIRE(std::memcmp(a.exp_avg_sq.data(), b.exp_avg_sq.data(), a.exp_avg_sq.bytes()) == 0);
    REQUIRE(a.row_steps == b.row_steps);
  }
  REQUIRE(loaded.pattentions()[3]->tau() == 1.2345f);
  REQUIRE(loaded_state.step == 2);
  REQUIRE(loaded_state.tokens == 20);
  REQUIRE(loaded_state.flops == 1.5e9);
  REQUIRE(loaded_state.data_rng == state.data_rng);
  REQUIRE(loaded.forward(engine, in, tgt, 2, 5, false) == model.forward(engine, in, tgt, 2, 5, false));
  // load_model rebuilds the same model from the file alone.
  auto rebuilt = load_model(dir.file("c.h5"));
  REQUIRE(rebuilt->forward(engine, in, tgt, 2, 5, false) == model.forward(engine, in, tgt, 2, 5, false));
}

TEST_CASE("Two runs with the same seed give identical losses and another seed differs", "[train][determinism]") {
  TempDir dir("determinism");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  auto run = [&](const std::string& name, uint64_t seed) {
    RunConfig rc = small_run(corpus, 20);
    rc.train.seed = seed;
    testing::CapturedLog log;
    Trainer trainer(rc, engine, log);
    trainer.run(dir.file(name));
    return MetricsLog(dir.file(name) + "/metrics.h5").read();
  };
  const auto a = run("a", 7), b = run("b", 7), c = run("c", 8);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].step == b[i].step);
    if (!std::isnan(a[i].train_loss)) REQUIRE(a[i].train_loss == b[i].train_loss);
    if (!std::isnan(a[i].val_loss)) REQUIRE(a[i].val_loss == b[i].val_loss);
  }
  REQUIRE(a.back().train_loss != c.back().train_loss);
}

TEST_CASE("Resuming from a checkpoint continues exactly like the uninterrupted run", "[train][resume]") {
  TempDir dir("resume");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus, 20);
  rc.train.checkpoint_every = 5;
  {
    Trainer trainer(rc, engine, log);
    trainer.run(dir.file("straight"));
  }
  // Resume a copy of the step-10 checkpoint as if the run had stopped there.
  std::filesystem::create_directories(dir.file("resumed"));
  std::filesystem::copy_file(dir.file("straight/ckpt_10.h5"), dir.file("resumed/latest.h5"));
  // and its metrics log, which a resume needs up to the checkpoint (it drops the rows after it).
  std::filesystem::copy_file(dir.file("straight/metrics.h5"), dir.file("resumed/metrics.h5"));
  {
    Trainer trainer(rc, engine, log);
    trainer.run(dir.file("resumed"), dir.file("resumed/latest.h5"));
  }
  auto straight = load_model(dir.file("straight/latest.h5"));
  auto resumed = load_model(dir.file("resumed/latest.h5"));
  for (Parameter* p : straight->parameters())
    REQUIRE(std::memcmp(p->value.data(), resumed->find_parameter(p->name)->value.data(), p->value.bytes()) == 0);
}

TEST_CASE("A tiny model on generated text reaches a loss well under the unigram entropy", "[train][learning]") {
  TempDir dir("learning");
  const std::string corpus_path = make_corpus(dir, 300000);
  // Unigram entropy of the validation bytes, in nats.
  const Corpus corpus = load_corpus(corpus_path);
  std::map<int32_t, double> counts;
  for (int32_t t : corpus.val) counts[t] += 1;
  double entropy = 0;
  for (const auto& [t, n] : counts) {
    const double p = n / static_cast<double>(corpus.val.size());
    entropy -= p * std::log(p);
  }
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus_path, 300);
  rc.train.lr = 1e-2;
  rc.train.min_lr = 1e-3;
  rc.train.eval_every = 300;
  Trainer trainer(rc, engine, log);
  const TrainResult r = trainer.run(dir.file("run"));
  INFO("unigram entropy " << entropy << " nats, final val loss " << r.final_val_loss);
  REQUIRE(r.first_val_loss > entropy);  // an untrained model knows nothing
  REQUIRE(r.final_val_loss < 0.5 * entropy);
}
