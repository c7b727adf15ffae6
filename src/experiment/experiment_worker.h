#pragma once
// An experiment under mpirun: rank 0 runs the ExperimentRunner (plans, grows, writes every
// file); before each stage it trains, it broadcasts the stage as a job, and the other
// ranks, in follow_experiment, train that stage with it data-parallel (Trainer with the
// communicator). When rank 0 is done it broadcasts the end. Growth, evaluation and the
// report run on rank 0 alone, while the others wait for the next job.
#include <string>

#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/engine.h"
#include "train/run_config.h"

namespace tg {

// The job text of one stage: its run config, directory and start checkpoint.
std::string stage_job(const RunConfig& stage, const std::string& dir, const std::string& start_checkpoint);

// Ranks other than 0: trains every job rank 0 broadcasts until the end.
void follow_experiment(Communicator& comm, Engine& engine, spdlog::logger& log);

// Rank 0, when the experiment is finished: releases the others.
void end_experiment_followers(Communicator& comm);

}  // namespace tg
