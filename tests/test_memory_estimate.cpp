// The memory estimate of a run (train/memory_estimate.h) as a function of its config: what
// each key does to each part, and the refusal's message. Against measured peaks of real
// runs: tests/faults/test_memory.cpp.
#include <catch2/catch.hpp>

#include "core/memory_usage.h"
#include "model/model_cost.h"
#include "train/memory_estimate.h"
#include "user_error_check.h"

using namespace tg;
using namespace tg::testing;

namespace {
ModelConfig model_of(Architecture arch) {
  ModelConfig m;
  m.architecture = arch;
  m.vocab_size = 300;
  m.d_model = 32;
  m.n_layers = 3;
  m.n_heads = 4;
  m.seq_len = 256;
  m.qkv_tokens = 16;
  m.proj_tokens = 24;
  m.ffn_tokens = 64;
  m.ffn_hidden = 96;
  return m;
}
}  // namespace

TEST_CASE("Memory estimate: grad_accum, batch, recompute, ranks and the reduction each move their part",
          "[train][memory]") {
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
    INFO(to_string(arch));
    const ModelConfig m = model_of(arch);
    const double P = static_cast<double>(n_params(m));
    TrainConfig t;
    t.batch_size = 8;
    const MemoryEstimate one = estimate_train_memory(m, t, 1);
    // Values, gradients, two moments; and the engine's packed copy of the largest matrix (V x d here).
    REQUIRE(one.weights_and_optimizer == 16 * P + 4.0 * static_cast<double>(m.vocab_size * m.d_model));
    REQUIRE(one.checkpoint == 24 * P);
    REQUIRE(one.gradient_sums == 0);
    REQUIRE(one.total() == one.weights_and_optimizer + one.activations + one.gradient_sums + one.checkpoint);

    // Micro-batches run one at a time in the same buffers: only the gradient sum is added.
    t.grad_accum = 64;
    const MemoryEstimate accum = estimate_train_memory(m, t, 1);
    REQUIRE(accum.activations == one.activations);
    REQUIRE(accum.gradient_sums == 4 * P);
    // Every rank's gradients gathered with deterministic_reduce; not with MPI_Allreduce.
    t.grad_accum = 1;
    REQUIRE(estimate_train_memory(m, t, 3).gradient_sums == 4 * P);
    t.deterministic_reduce = true;
    REQUIRE(estimate_train_memory(m, t, 3).gradient_sums == 4 * P + 3 * 4 * P);
    t.deterministic_reduce = false;

    // Activations are linear in the batch; the rest does not depend on it.
    t.batch_size = 16;
    const MemoryEstimate doubled = estimate_train_memory(m, t, 1);
    REQUIRE(doubled.activations == Approx(2 * one.activations).epsilon(1e-12));
    REQUIRE(doubled.weights_and_optimizer == one.weights_and_optimizer);
    t.batch_size = 8;

    // Recomputing keeps less: attention no T x T probabilities, block one block's activations.
    t.recompute = Recompute::Attention;
    const double attention = estimate_train_memory(m, t, 1).activations;
    t.recompute = Recompute::Block;
    const double block = estimate_train_memory(m, t, 1).activations;
    REQUIRE(attention < one.activations);
    REQUIRE(block < one.activations);
    t.recompute = Recompute::None;

    // bf16 copies of the activations add to them.
    ModelConfig bf16 = m;
    bf16.precision = Precision::BF16;
    REQUIRE(estimate_train_memory(bf16, t, 1).activations > one.activations);
  }
}

TEST_CASE("Memory estimate: a run beyond the available memory is refused, naming the keys", "[train][memory]") {
  const AvailableMemory available = available_memory();
  REQUIRE(available.known());  // Linux: /proc/meminfo
  REQUIRE(available.bytes > 0);
  ModelConfig m = model_of(Architecture::TokenFormer);
  TrainConfig t;
  t.batch_size = 4;
  REQUIRE(error_of([&] { check_memory_fits(estimate_train_memory(m, t, 1), m, t, "this run"); }) == "no error");

  // Activations first (logits of 2^20 x 16 rows x 2^16 tokens: 4 TiB): batch and sequence.
  m.vocab_size = 65536;
  m.seq_len = 16;
  t.batch_size = 1 << 20;
  const std::string activations = error_of([&] { check_memory_fits(estimate_train_memory(m, t, 1), m, t, "this run"); });
  REQUIRE(activations.rfind("this run needs about ", 0) == 0);
  REQUIRE(activations.find("activations of a 1048576 x 16-token micro-batch") != std::string::npos);
  REQUIRE(activations.find("lower train.batch_size (1048576) or model.seq_len (16)") != std::string::npos);
  REQUIRE(activations.find("or set train.recompute") != std::string::npos);

  // Weights first (a 2^20-token FFN in 1024 layers of d 4096: 2^43 parameters): the model's size.
  m = model_of(Architecture::TokenFormer);
  m.d_model = 4096;
  m.n_layers = 1024;
  m.ffn_tokens = 1 << 20;
  t.batch_size = 1;
  m.seq_len = 1;
  const std::string weights = error_of([&] { check_memory_fits(estimate_train_memory(m, t, 1), m, t, "run x,"); });
  REQUIRE(weights.rfind("run x, needs about ", 0) == 0);
  REQUIRE(weights.find("choose a smaller model (model.d_model 4096, model.n_layers 1024") != std::string::npos);
}

TEST_CASE("Byte counts for people", "[train][memory]") {
  REQUIRE(memory_text(512 * 1024.0) == "512 KiB");
  REQUIRE(memory_text(37.5 * (1 << 20)) == "37.5 MiB");
  REQUIRE(memory_text(1.25 * (1 << 30)) == "1.25 GiB");
  REQUIRE(memory_text(4142.0 * (1 << 30)) == "4142 GiB");
}
