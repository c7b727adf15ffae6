#include "experiment/experiment_worker.h"

#include <nlohmann/json.hpp>

#include "core/config_reader.h"
#include "train/trainer.h"

namespace tg {

std::string stage_job(const RunConfig& stage, const std::string& dir, const std::string& start_checkpoint) {
  return nlohmann::json{{"config", stage.to_json()}, {"dir", dir}, {"start", start_checkpoint}}.dump();
}

void follow_experiment(Communicator& comm, Engine& engine, spdlog::logger& log) {
  for (;;) {
    std::string text;
    comm.broadcast(text);
    const nlohmann::json job = parse_json_text(text, "the job rank 0 sent");
    if (job.contains("done")) return;
    const RunConfig stage = parse_run_config(job.at("config"), "the stage config rank 0 sent");
    Trainer trainer(stage, engine, log, comm);
    trainer.run(job.at("dir").get<std::string>(), job.at("start").get<std::string>());
  }
}

void end_experiment_followers(Communicator& comm) {
  if (comm.size() == 1) return;
  std::string done = R"({"done": true})";
  comm.broadcast(done);
}

}  // namespace tg
