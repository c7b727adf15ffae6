#pragma once
// The checks that keep a data-parallel run's ranks one run (docs/distributed.md):
// before training, every rank must hold the same config, corpus and starting point;
// while training, the same weights. Each check is collective (every rank calls it at
// the same point) and, when it fails, throws the same UserError on every rank, so no
// rank is left waiting.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/communicator.h"
#include "core/parameter.h"

namespace tg {

// A fact the ranks must agree on: what it is ("the config") and this rank's value.
struct RankFact {
  std::string what;
  std::string value;
};

// A directory as the ranks compare it: absolute, normalised, no trailing separator.
// Rank 0 alone writes, into its own --out: a rank given another must not start.
RankFact directory_fact(const std::string& what, const std::string& dir);

// UserError naming the first fact on which some rank differs from rank 0, the rank,
// and both values (the same message on every rank).
void check_ranks_agree(Communicator& comm, const std::vector<RankFact>& facts);

// 64-bit FNV-1a over every parameter's value bits, in order.
uint64_t weights_checksum(std::span<Parameter* const> params);

// UserError when some rank's weights checksum differs from rank 0's (`when`: "after
// step 100").
void check_replicas(Communicator& comm, std::span<Parameter* const> params, const std::string& when);

}  // namespace tg
