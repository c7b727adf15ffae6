#include "train/rank_agreement.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tg {

namespace {
uint64_t fnv1a(const void* data, size_t bytes, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// "train.lr: 0.001 on rank 0, 0.002 here" for two JSON texts, else both values cut short.
std::string difference(const std::string& theirs, const std::string& mine, int rank) {
  const std::string here = " on rank " + std::to_string(rank);
  const auto a = nlohmann::json::parse(theirs, nullptr, false), b = nlohmann::json::parse(mine, nullptr, false);
  if (!a.is_discarded() && !b.is_discarded() && a.is_object()) {
    for (const nlohmann::json& op : nlohmann::json::diff(a, b)) {
      const nlohmann::json::json_pointer at(op["path"].get<std::string>());
      std::string key = op["path"].get<std::string>().substr(1);
      for (char& c : key) c = c == '/' ? '.' : c;
      return key + ": " + (a.contains(at) ? a.at(at).dump() : "(absent)") + " on rank 0, " +
             (b.contains(at) ? b.at(at).dump() : "(absent)") + here;
    }
  }
  return theirs.substr(0, 200) + " on rank 0, " + mine.substr(0, 200) + here;
}
}  // namespace

RankFact directory_fact(const std::string& what, const std::string& dir) {
  std::filesystem::path path = std::filesystem::absolute(dir).lexically_normal();
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();  // "runs/a/" is "runs/a"
  return {what, path.string()};
}

void check_ranks_agree(Communicator& comm, const std::vector<RankFact>& facts) {
  if (comm.size() == 1) return;
  // Rank 0's values travel to every rank; each rank finds its first differing fact.
  std::vector<std::string> root_values;
  uint64_t first_difference = facts.size();
  std::string detail;
  for (size_t i = 0; i < facts.size(); ++i) {
    std::string value = facts[i].value;
    comm.broadcast(value);
    if (first_difference == facts.size() && value != facts[i].value) {
      first_difference = i;
      detail = difference(value, facts[i].value, comm.rank());
    }
  }
  std::vector<uint64_t> all(static_cast<size_t>(comm.size()));
  comm.allgather(std::span<const uint64_t>(&first_difference, 1), std::span<uint64_t>(all));
  for (int r = 1; r < comm.size(); ++r) {
    if (all[r] == facts.size()) continue;
    comm.broadcast(detail, r);  // the differing rank's account, so every rank (and rank 0's log) says it
    throw UserError("rank " + std::to_string(r) + " of " + std::to_string(comm.size()) + " disagrees with rank 0 on " +
                    facts[all[r]].what + " (" + detail + "); every rank must start from the same --out, config, "
                    "corpus and checkpoint");
  }
}

uint64_t weights_checksum(std::span<Parameter* const> params) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const Parameter* p : params) h = fnv1a(p->value.data(), static_cast<size_t>(p->value.bytes()), h);
  return h;
}

void check_replicas(Communicator& comm, std::span<Parameter* const> params, const std::string& when) {
  if (comm.size() == 1) return;
  const uint64_t mine = weights_checksum(params);
  std::vector<uint64_t> all(static_cast<size_t>(comm.size()));
  comm.allgather(std::span<const uint64_t>(&mine, 1), std::span<uint64_t>(all));
  for (int r = 1; r < comm.size(); ++r)
    if (all[r] != all[0]) {
      char sums[80];
      std::snprintf(sums, sizeof sums, "%016llx on rank 0, %016llx on rank %d", static_cast<unsigned long long>(all[0]),
                    static_cast<unsigned long long>(all[r]), r);
      throw UserError("the replicas diverged " + when + ": rank " + std::to_string(r) +
                      "'s weights differ from rank 0's (checksums " + sums +
                      "); the ranks are not one run any more (a faulty node, or a nondeterministic kernel); "
                      "resume from the last checkpoint");
    }
}

}  // namespace tg
