// Data parallelism within one process: gradient accumulation against one larger batch,
// the one stream of micro-batches every rank walks, and the checks that keep ranks
// alike, seen from rank 1 of a pretend two-rank job (the real ranks: tests/mpi/).
#include <catch2/catch.hpp>

#include <cmath>
#include <deque>
#include <sstream>
#include <vector>

#include "cli/cli.h"
#include "core/engine.h"
#include "test_data.h"
#include "data/corpus.h"
#include "train/gradient_reducer.h"
#include "train/metrics_log.h"
#include "train/rank_agreement.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Rank 1 of 2: rank 0's broadcasts and gathered values are given in advance.
class RankOneOfTwo final : public Communicator {
 public:
  std::deque<std::string> rank0_texts;
  std::deque<uint64_t> rank0_numbers;
  int rank() const override { return 1; }
  int size() const override { return 2; }
  void allreduce_sum(std::span<float>) override { FAIL("not expected"); }
  void allgather(std::span<const float>, std::span<float>) override { FAIL("not expected"); }
  void allgather(std::span<const double>, std::span<double>) override { FAIL("not expected"); }
  void allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) override {
    all[0] = rank0_numbers.front();
    rank0_numbers.pop_front();
    all[1] = mine[0];
  }
  void broadcast(std::string& text, int root) override {
    if (root == 1) return;  // this rank's own text goes out
    text = rank0_texts.front();
    rank0_texts.pop_front();
  }
  void set_peer_timeout(double) override {}
};

std::vector<std::vector<float>> first_step_gradients(const RunConfig& rc, const std::string& out) {
  Engine engine(2);
  CapturedLog log;
  Trainer trainer(rc, engine, log);
  std::vector<std::vector<float>> grads;
  trainer.set_gradient_hook([&](std::span<Parameter* const> params) {
    if (!grads.empty()) return;
    for (const Parameter* p : params) grads.emplace_back(p->grad.data(), p->grad.data() + p->grad.numel());
  });
  trainer.run(out);
  return grads;
}
}  // namespace

TEST_CASE("grad_accum 2 x batch 4 trains on the sequences of batch 8 and gives its gradient", "[train][parallel]") {
  TempDir dir("grad_accum");
  RunConfig whole = small_run(make_corpus(dir), 3);
  whole.train.log_every = 1;
  RunConfig halves = whole;
  halves.train.batch_size = whole.train.batch_size / 2;
  halves.train.grad_accum = 2;
  const auto a = first_step_gradients(whole, dir.file("whole")), b = first_step_gradients(halves, dir.file("halves"));
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double diff = 0, norm = 0;
    for (size_t j = 0; j < a[i].size(); ++j) {
      diff = std::max(diff, std::abs(double(a[i][j]) - b[i][j]));
      norm = std::max(norm, std::abs(double(a[i][j])));
    }
    worst = std::max(worst, diff / norm);
  }
  INFO("worst relative gradient difference " << worst);
  REQUIRE(worst < 1e-5);  // float sums in another order; a missing 1/2 or other data would be ~1
  const auto la = MetricsLog(dir.file("whole/metrics.h5")).read(), lb = MetricsLog(dir.file("halves/metrics.h5")).read();
  REQUIRE(la.size() == lb.size());
  REQUIRE(std::abs(la[1].train_loss - lb[1].train_loss) / la[1].train_loss < 1e-6);  // the first step's loss
  REQUIRE(la.back().tokens == lb.back().tokens);
}

TEST_CASE("The reducer averages a step's micro-batches and drops what a skipped step added", "[train][parallel]") {
  Parameter p("w", {3}, {Axis::Model}, OptimizerGroup::Decay);
  Parameter* params[] = {&p};
  SoloCommunicator alone;
  GradientReducer reducer(params, alone, false);
  const float first[] = {1, 2, 3}, second[] = {5, 6, 7}, stale[] = {100, 100, 100};
  auto backward = [&](const float* g) {
    for (int i = 0; i < 3; ++i) p.grad[i] = g[i];
    reducer.add();
  };
  reducer.begin_step();
  backward(stale);  // a step whose other micro-batch was not finite: never reduced
  reducer.begin_step();
  backward(first);
  backward(second);
  reducer.reduce(2);
  for (int i = 0; i < 3; ++i) REQUIRE(p.grad[i] == (first[i] + second[i]) / 2);
}

TEST_CASE("BatchSampler::skip moves on exactly as many batches as next would read", "[train][parallel]") {
  std::vector<int32_t> tokens(5000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i % 251);
  BatchSampler read(&tokens, 3, 16, 7), skipped(&tokens, 3, 16, 7);
  std::vector<int32_t> in, out, in2, out2;
  read.next(in, out);
  read.next(in, out);
  read.next(in, out);
  skipped.skip(2);
  skipped.next(in2, out2);
  REQUIRE(in == in2);
  REQUIRE(out == out2);
  REQUIRE(read.rng_state() == skipped.rng_state());
}

TEST_CASE("Ranks that disagree on a fact refuse, naming the fact, the rank and both values", "[train][parallel]") {
  RankOneOfTwo comm;
  comm.rank0_texts = {R"({"train":{"lr":0.003}})", "crc 1"};
  comm.rank0_numbers = {2};  // rank 0 differs from nothing (index 2: past the facts)
  const std::string e = error_of([&] {
    check_ranks_agree(comm, {{"the config", R"({"train":{"lr":0.001}})"}, {"the corpus", "crc 1"}});
  });
  INFO(e);
  REQUIRE(e.find("rank 1 of 2 disagrees with rank 0 on the config (train.lr: 0.003 on rank 0, 0.001 on rank 1)") !=
          std::string::npos);
  RankOneOfTwo agree;
  agree.rank0_texts = {"a", "b"};
  agree.rank0_numbers = {2};
  REQUIRE_NOTHROW(check_ranks_agree(agree, {{"x", "a"}, {"y", "b"}}));
}

TEST_CASE("Diverged replicas stop the run with both checksums", "[train][parallel]") {
  Parameter p("w", {4}, {Axis::Model}, OptimizerGroup::Decay);
  for (int i = 0; i < 4; ++i) p.value[i] = static_cast<float>(i);
  Parameter* params[] = {&p};
  const uint64_t mine = weights_checksum(params);
  RankOneOfTwo same;
  same.rank0_numbers = {mine};
  REQUIRE_NOTHROW(check_replicas(same, params, "after step 3"));
  p.value[2] = std::nextafter(p.value[2], 10.0f);  // one bit
  REQUIRE(weights_checksum(params) != mine);
  RankOneOfTwo other;
  other.rank0_numbers = {mine};
  const std::string e = error_of([&] { check_replicas(other, params, "after step 3"); });
  REQUIRE(e.find("the replicas diverged after step 3: rank 1's weights differ from rank 0's") != std::string::npos);
}

TEST_CASE("tokengrow --version says whether it was built with MPI", "[cli][parallel]") {
  std::ostringstream out, err;
  const char* argv[] = {"tokengrow", "--version"};
  REQUIRE(run_cli(2, argv, out, err) == 0);
#ifdef TOKENGROW_WITH_MPI
  REQUIRE(out.str().find("built with MPI (") != std::string::npos);
#else
  REQUIRE(out.str().find("built without MPI") != std::string::npos);
#endif
  // ... and whether this CPU runs bf16 matmuls (the interop test reads it).
  Engine engine(1);
  REQUIRE(out.str().find(engine.supports_bf16() ? "bf16 matmuls available on this CPU"
                                                : "bf16 matmuls not available on this CPU") != std::string::npos);
}
