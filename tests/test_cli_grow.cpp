// `tokengrow grow` on the command line: the verdict it prints is the one it measured.
#include <catch2/catch.hpp>

#include <string>

#include "cli_run.h"
#include "trained_growth_base.h"

using namespace tg;
using namespace tg::testing;

TEST_CASE("CLI: grow prints the measured verdict: exact for the L2 normalisations, not exact with a note for softmax",
          "[cli][growth]") {
  Engine engine(2);
  for (PattentionNorm norm : {PattentionNorm::L2NormGelu, PattentionNorm::GeluL2Norm, PattentionNorm::Softmax}) {
    auto t = trained_model(engine, norm);
    const CliResult r = cli({"grow", "--from", t->dir.file("base/latest.h5"), "--out", t->dir.file("cli.h5"),
                             "--qkv-tokens", "24", "--proj-tokens", "20", "--ffn-tokens", "40", "--key-init", "zero",
                             "--tau", "fixed"});
    INFO(to_string(norm) << "\n" << r.out << r.err);
    REQUIRE(r.code == 0);
    const bool softmax_note = r.out.find("note: softmax normalisation: each zero new key scores exp(0)") != std::string::npos;
    if (norm == PattentionNorm::Softmax) {
      REQUIRE(r.out.find("): not exact (measured") != std::string::npos);
      REQUIRE(softmax_note);
    } else {
      REQUIRE(r.out.find("): exact (measured") != std::string::npos);
      REQUIRE_FALSE(softmax_note);
    }
  }
}
