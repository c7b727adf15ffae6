#include "bench/rank_scaling.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tg {

namespace {
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `command` and parses the last line it printed as the bench's JSON result.
nlohmann::json run_bench_child(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) throw UserError("tokengrow bench --ranks: cannot start: " + command);
  std::string output;
  std::array<char, 4096> chunk{};
  for (size_t n; (n = fread(chunk.data(), 1, chunk.size(), pipe.get())) > 0;) output.append(chunk.data(), n);
  const int status = pclose(pipe.release());
  std::string last;  // the last line that starts a JSON object
  for (size_t at = 0; at < output.size();) {
    const size_t end = std::min(output.find('\n', at), output.size());
    if (output[at] == '{') last = output.substr(at, end - at);
    at = end + 1;
  }
  const nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
  if (status != 0 || j.is_discarded())
    throw UserError("tokengrow bench --ranks: `" + command + "` failed (status " + std::to_string(status) +
                    "):\n" + output.substr(output.size() > 2000 ? output.size() - 2000 : 0));
  return j;
}
}  // namespace

void bench_rank_scaling(const RankScalingOptions& o, std::ostream& out) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string args = " bench --config " + quoted(o.config) + " --json --skip-peak --steps " + std::to_string(o.steps) +
                     " --warmup " + std::to_string(o.warmup);
  if (!o.precision.empty()) args += " --precision " + quoted(o.precision);
  const std::string mpirun = std::string("mpirun -np ") + std::to_string(o.ranks) +
                             (geteuid() == 0 ? " --allow-run-as-root" : "") + " ";
  const std::string n = std::to_string(o.ranks);
  out << "bench --ranks " << n << ": " << o.config << ", " << o.steps << " timed steps each, one run at a time\n";
  const nlohmann::json threads = run_bench_child(quoted(self) + args + " --threads " + n);
  const nlohmann::json one = run_bench_child(quoted(self) + args + " --threads 1");
  const nlohmann::json ranks = run_bench_child(mpirun + quoted(self) + args + " --threads 1");
  const double t_threads = threads["tokens_per_s"], t_one = one["tokens_per_s"], t_ranks = ranks["tokens_per_s"];
  char row[256];
  out << "| run | tokens/s | median step ms |\n|---|---|---|\n";
  for (const auto& [name, j] : {std::pair<std::string, const nlohmann::json&>{"1 process x " + n + " threads", threads},
                                {"1 process x 1 thread", one},
                                {"mpirun -np " + n + " x 1 thread", ranks}}) {
    std::snprintf(row, sizeof row, "| %s | %.0f | %.1f |\n", name.c_str(), j["tokens_per_s"].get<double>(),
                  1e3 * j["median_step_s"].get<double>());
    out << row;
  }
  std::snprintf(row, sizeof row,
                "efficiency: %d ranks reach %.1f%% of 1 process x %d threads, %.1f%% of %d x 1 thread\n"
                "all-reduce: %.1f MB per step per rank, median %.1f ms (%.1f%% of the step)\n",
                o.ranks, 100 * t_ranks / t_threads, o.ranks, 100 * t_ranks / (o.ranks * t_one), o.ranks,
                ranks["reduced_bytes"].get<double>() / 1e6, 1e3 * ranks["median_reduce_s"].get<double>(),
                100 * ranks["median_reduce_s"].get<double>() / ranks["median_step_s"].get<double>());
  out << row;
}

}  // namespace tg
