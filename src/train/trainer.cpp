#include "train/trainer.h"

#include <cmath>
#include <limits>

#include "core/crash_point.h"
#include "core/error.h"
#include "core/log.h"
#include "core/memory_usage.h"
#include "model/model_cost.h"
#include "train/checkpoint.h"
#include "train/checkpointer.h"
#include "data/corpus_checksum.h"
#include "train/evaluate.h"
#include "train/metrics_log.h"
#include "train/gradient_reducer.h"
#include "train/rank_agreement.h"
#include "train/stage_schedule.h"

namespace tg {

namespace {
// The data sampler's seed: derived from the run seed but a different stream from init.
uint64_t data_seed(uint64_t seed) { return seed ^ 0xD1B54A32D192ED03ull; }
}  // namespace

Trainer::Trainer(const RunConfig& config, Engine& engine, spdlog::logger& log) : Trainer(config, engine, log, solo_) {}

Trainer::Trainer(const RunConfig& config, Engine& engine, spdlog::logger& log, Communicator& comm)
    : config_(config),
      engine_(engine),
      log_(log),
      corpus_(load_corpus(config.data_path)),
      corpus_checksum_(corpus_checksum(corpus_)),
      comm_(comm) {
  const ModelConfig& m = config_.model;
  if (corpus_.info.vocab_size > m.vocab_size)
    throw UserError(config_.data_path + ": corpus vocabulary has " + std::to_string(corpus_.info.vocab_size) +
                    " tokens but model.vocab_size is " + std::to_string(m.vocab_size));
  const int64_t need = m.seq_len + 1;
  if (static_cast<int64_t>(corpus_.train.size()) < need)
    throw UserError(config_.data_path + ": the train split has " + std::to_string(corpus_.train.size()) +
                    " tokens, fewer than one sequence of model.seq_len + 1 = " + std::to_string(need));
  if (static_cast<int64_t>(corpus_.val.size()) < need)
    throw UserError(config_.data_path + ": the validation split has " + std::to_string(corpus_.val.size()) +
                    " tokens, fewer than one sequence of model.seq_len + 1 = " + std::to_string(need) +
                    " (prepare it with a larger --val-fraction or more text)");
  const int64_t val_windows =
      eval_window_count(static_cast<int64_t>(corpus_.val.size()), m.seq_len, config_.train.eval_batches * config_.train.batch_size);
  val_bpb_per_nat_ = bits_per_byte(1.0, val_windows * m.seq_len,
                                   window_target_bytes(corpus_.val, m.seq_len, val_windows, corpus_.tokenizer.bytes_per_id()));
  memory_ = estimate_train_memory(m, config_.train, comm_.size());
  check_memory_fits(memory_, m, config_.train, "this run");
  model_ = std::make_unique<LanguageModel>(m);
  model_->set_recompute(config_.train.recompute);
  optimizer_ = std::make_unique<AdamW>(config_.train.adamw, model_->parameters());
  if (config_.train.deterministic_reduce && comm_.size() > 1)  // refused before the run directory is touched
    check_gathered_gradient_bytes(model_->n_params(), comm_.size());
}

double Trainer::validate() {
  return evaluate_windows(engine_, *model_, corpus_.val, config_.train.batch_size,
                          config_.train.eval_batches * config_.train.batch_size, config_.data_path + " (val)", corpus_.tokenizer.bytes_per_id())
      .loss;
}

TrainResult Trainer::run(const std::string& out_dir, const std::string& start_checkpoint) {
  check_ranks_agree(comm_, {directory_fact("the run directory (--out)", out_dir)});  // before rank 0 touches it
  std::optional<RunDirectory> dir;
  const RunStart start = agree_on_start(dir, out_dir, start_checkpoint);
  const bool writes = comm_.rank() == 0;
  BatchSampler sampler = start_model(start, start_checkpoint);
  check_ranks_start_alike();
  if (start == RunStart::Resume) note_batch_change();
  state_.world_size = comm_.size();
  state_.grad_accum = config_.train.grad_accum;
  std::optional<MetricsLog> metrics;
  if (writes) metrics.emplace(dir->metrics_path());
  if (start == RunStart::Resume) {
    if (metrics) metrics->resume_at(start_checkpoint, state_.step, state_.logged_through_step());
  } else {
    state_.peak_lr = stage_peak_lr(config_.train, state_.peak_lr);
  }
  const StageSchedule schedule(config_.train, state_);
  const Checkpointer checkpointer(*dir, config_.to_json(), config_.train.keep_checkpoints);
  MetricsLog* metrics_out = metrics ? &*metrics : nullptr;
  const Checkpointer* checkpoints_out = writes ? &checkpointer : nullptr;
  print_model_line();

  TrainResult result;
  model_->set_step(state_.step);
  if (start != RunStart::Resume) result.first_val_loss = begin_stage(metrics_out, checkpoints_out, schedule);
  const StepLoopParts parts{engine_, *model_, *optimizer_, sampler, state_,    metrics_out,
                            checkpoints_out, *dir, comm_, log_, [this] { return validate(); }, val_bpb_per_nat_};
  const StepLoopResult loop = train_steps(parts, schedule, metrics_out);
  result.interrupted = loop.interrupted;
  result.final_train_loss = loop.last_train_loss;
  if (loop.last_val_loss) result.final_val_loss = *loop.last_val_loss;
  else if (!result.interrupted) result.final_val_loss = validate();  // resumed a finished run
  result.final_val_bpb = result.final_val_loss * val_bpb_per_nat_;
  result.steps = state_.step;
  result.tokens = state_.tokens;
  result.flops = state_.flops;
  result.wall_s = state_.wall_s;
  return result;
}

RunStart Trainer::agree_on_start(std::optional<RunDirectory>& dir, const std::string& out_dir,
                                 const std::string& start_checkpoint) {
  std::string decided;
  RunStart start = RunStart::Fresh;
  if (comm_.rank() == 0) {
    dir.emplace(out_dir);  // locked before anything in it is looked at
    attach_log_file(log_, dir->log_path(), LogFileRole::Run);
    log_removed_temp_files(log_, dir->removed_temp_files());
    log_.debug(line("config: ", config_.to_json().dump()));
    start = dir->prepare_start(start_checkpoint, log_);
    decided = std::to_string(static_cast<int>(start));
  }
  comm_.broadcast(decided);
  if (comm_.rank() != 0) {
    dir.emplace(out_dir, RunDirectory::Access::Follow);
    start = static_cast<RunStart>(std::stoi(decided));
  }
  return start;
}

void Trainer::note_batch_change() const {
  const int64_t before = state_.world_size * state_.grad_accum, now = comm_.size() * config_.train.grad_accum;
  if (state_.world_size == comm_.size() && state_.grad_accum == config_.train.grad_accum) return;
  const std::string was = line(state_.world_size, " ranks x grad_accum ", state_.grad_accum);
  const std::string is = line(comm_.size(), " ranks x grad_accum ", config_.train.grad_accum);
  if (before == now)
    log_.info(line("resumed with ", is, " (trained so far with ", was, "): the same ", now,
                   " micro-batches per step, so the data order and the global batch are unchanged"));
  else
    log_.warn(line("resumed with ", is, " (trained so far with ", was, "): the global batch changes from ", before,
                   " to ", now, " micro-batches of ", config_.train.batch_size,
                   " sequences, and the data order from here on with it (docs/distributed.md)"));
}

void Trainer::check_ranks_start_alike() {
  if (comm_.size() == 1) return;
  crash_point("ranks.agree");
  nlohmann::json config = config_.to_json();
  config["train"].erase("threads");  // a rank's speed, not the run
  check_ranks_agree(comm_, {{"the config", config.dump()},
                            {"the corpus (its checksum)", corpus_checksum_.to_string()},
                            {"the step it starts from", std::to_string(state_.step)},
                            {"the starting weights (their checksum)", std::to_string(weights_checksum(optimizer_->params()))}});
}

namespace {
// What was logged, readable as metrics.h5, after a run stopped with an error (the
// journal keeps it if this fails too).
void keep_metrics(MetricsLog* metrics) {
  try {
    if (metrics) metrics->compact();
  } catch (const UserError&) {
  }
}
}  // namespace

StepLoopResult Trainer::train_steps(const StepLoopParts& parts, const StageSchedule& schedule, MetricsLog* metrics) {
  StepLoopResult loop;
  try {
    loop = StepLoop(parts, config_.train, schedule, hooks_).run();
  } catch (const UserError&) {
    keep_metrics(metrics);
    throw;
  } catch (const PeerLost& e) {
    keep_metrics(metrics);
    throw PeerLost(line(e.what(), ". Training stopped in step ", state_.step + 1,
                        "; `train --resume` continues from the last checkpoint"));
  }
  if (metrics) metrics->compact();
  return loop;
}

BatchSampler Trainer::start_model(RunStart start, const std::string& checkpoint) {
  const TrainConfig& tc = config_.train;
  const int64_t batch = tc.batch_size, seq = config_.model.seq_len;
  BatchSampler sampler(&corpus_.train, batch, seq, data_seed(tc.seed));
  if (start == RunStart::Fresh) {
    Rng init_rng(tc.seed);
    model_->init(init_rng);
  } else {
    load_checkpoint(checkpoint, *model_, optimizer_.get(), &state_);
    check_corpus_fits(corpus_.info, config_.data_path, state_.tokenizer, config_.model.vocab_size, checkpoint);
    if (start == RunStart::Resume) {
      check_corpus(checkpoint);
      sampler.set_rng_state(state_.data_rng);
      log_.info(line("resumed ", checkpoint, " at step ", state_.step));
    } else {
      // A new stage from a checkpoint: fresh data order for this stage, seeded by
      // the run seed and the step the stage starts at.
      sampler = BatchSampler(&corpus_.train, batch, seq, data_seed(tc.seed) + static_cast<uint64_t>(state_.step));
      log_.info(line("stage ", state_.stage, " from ", checkpoint, " at step ", state_.step));
    }
  }
  state_.data_rng = sampler.rng_state();  // what the stage-start checkpoint records
  state_.corpus = corpus_checksum_;  // a new stage may train on new data
  state_.tokenizer = corpus_.info.tokenizer;
  state_.tokenizer_vocab_size = corpus_.info.vocab_size;
  return sampler;
}

void Trainer::check_corpus(const std::string& checkpoint) {
  if (!state_.corpus) {
    log_.warn(line(checkpoint, " records no corpus checksum (written by an older tokengrow); ", config_.data_path,
                   " is not checked against the corpus the run was trained on"));
  } else if (!(*state_.corpus == corpus_checksum_)) {
    throw UserError(config_.data_path + ": not the corpus " + checkpoint + " was trained on (its tokens: " +
                    corpus_checksum_.to_string() + "; the checkpoint recorded " + state_.corpus->to_string() +
                    "); resume with that corpus (--data), or start a new run");
  }
}

double Trainer::begin_stage(MetricsLog* metrics, const Checkpointer* checkpointer, const StageSchedule& schedule) {
  // The stage's starting point: step 0, or the grown model right after growth.
  const double v0 = validate();
  log_.info(line("step ", state_.step, " | val loss ", v0, " | val ppl ", std::exp(v0), " | val bpb ",
                 v0 * val_bpb_per_nat_));
  if (!metrics) return v0;
  metrics->append(metrics_row(state_, model_->n_params(), std::numeric_limits<double>::quiet_NaN(), v0,
                              schedule.lr_at(state_.step), val_bpb_per_nat_));
  metrics->sync();
  checkpointer->save_latest(*model_, *optimizer_, state_);
  return v0;
}

void Trainer::print_model_line() {
  const ModelConfig& m = config_.model;
  const StepCost cost = step_cost(model_->config(), config_.train.batch_size, config_.train.grad_accum, comm_.size());
  std::string parallel;
  if (cost.micro_batches > 1)
    parallel = line(" x ", config_.train.grad_accum, " micro-batches x ", comm_.size(), " ranks (global batch ",
                    config_.train.batch_size * cost.micro_batches, ")");
  log_.info(line("model: ", to_string(m.architecture), ", ", model_->n_params(), " parameters, ", m.n_layers,
                 " layers, d ", m.d_model, "; ", cost.model_flops / 1e9, " GFLOP per step", parallel, "; ",
                 engine_.threads(), " threads", comm_.size() > 1 ? " per rank" : ""));
  const AvailableMemory available = available_memory();
  log_.info(line("memory: about ", memory_summary(memory_, m, config_.train), comm_.size() > 1 ? " per rank" : "",
                 available.known() ? "; " + memory_text(static_cast<double>(available.bytes)) + " available" : ""));
}

}  // namespace tg
