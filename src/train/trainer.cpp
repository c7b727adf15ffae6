#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/run_lock.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

// Keeps the `keep` newest ckpt_<step>.h5 files of a run directory (including
// those of earlier, resumed invocations); latest.h5 is not among them.
void remove_old_checkpoints(const fs::path& dir, int64_t keep) {
  std::vector<std::pair<int64_t, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("ckpt_", 0) != 0 || entry.path().extension() != ".h5") continue;
    try {
      found.emplace_back(std::stoll(name.substr(5)), entry.path());
    } catch (const std::exception&) {
    }
  }
  std::sort(found.begin(), found.end());
  std::error_code ec;
  for (size_t i = 0; i + keep < found.size(); ++i) fs::remove(found[i].second, ec);
}

// The data sampler's seed: derived from the run seed but a different stream from init.
uint64_t data_seed(uint64_t seed) { return seed ^ 0xD1B54A32D192ED03ull; }
}  // namespace

Trainer::Trainer(const RunConfig& config, Engine& engine, std::ostream& out)
    : config_(config), engine_(engine), out_(out), corpus_(load_corpus(config.data_path)) {
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
  model_ = std::make_unique<LanguageModel>(m);
  optimizer_ = std::make_unique<AdamW>(config_.train.adamw, model_->parameters());
}

double Trainer::validate() {
  return evaluate_windows(engine_, *model_, corpus_.val, config_.train.batch_size,
                          config_.train.eval_batches * config_.train.batch_size, config_.data_path + " (val)")
      .loss;
}

TrainResult Trainer::run(const std::string& out_dir, const std::string& start_checkpoint) {
  const TrainConfig& tc = config_.train;
  const int64_t batch = tc.batch_size, seq = config_.model.seq_len;
  const fs::path dir(out_dir);
  const fs::path latest = dir / "latest.h5";
  const fs::path metrics_path = dir / "metrics.h5";
  const RunLock lock(out_dir);  // before looking at or touching anything in the directory
  std::error_code ec;
  const bool resume = !start_checkpoint.empty() && fs::exists(latest) &&
                      fs::equivalent(fs::path(start_checkpoint), latest, ec);
  if (!resume && fs::exists(latest))
    throw UserError(out_dir + ": already holds a run (latest.h5); resume it with --resume " + out_dir +
                    " or choose another --out");
  // Metrics without any checkpoint: an earlier start was stopped before its first
  // checkpoint. Nothing of it can be resumed, so this start replaces its log.
  if (!resume && fs::exists(metrics_path)) {
    out_ << out_dir << ": no checkpoint from an earlier, interrupted start; starting over\n";
    fs::remove(metrics_path);
  }

  BatchSampler sampler(&corpus_.train, batch, seq, data_seed(tc.seed));
  if (start_checkpoint.empty()) {
    Rng init_rng(tc.seed);
    model_->init(init_rng);
  } else {
    load_checkpoint(start_checkpoint, *model_, optimizer_.get(), &state_);
    if (resume) {
      sampler.set_rng_state(state_.data_rng);
      out_ << "resumed " << start_checkpoint << " at step " << state_.step << "\n";
    } else {
      // A new stage from a checkpoint: fresh data order for this stage, seeded by
      // the run seed and the step the stage starts at.
      sampler = BatchSampler(&corpus_.train, batch, seq, data_seed(tc.seed) + static_cast<uint64_t>(state_.step));
      out_ << "stage " << state_.stage << " from " << start_checkpoint << " at step " << state_.step << "\n";
    }
  }
  state_.data_rng = sampler.rng_state();  // what the stage-start checkpoint records
  if (resume && fs::exists(metrics_path)) MetricsLog(metrics_path.string()).truncate_after(state_.step);

  // This stage's schedule: `steps` steps from stage_start_step (or one global schedule).
  const int64_t stage_start = state_.stage_start_step;
  const bool new_stage = !resume;
  if (new_stage) state_.peak_lr = tc.lr_factor > 0 && state_.peak_lr > 0 ? tc.lr_factor * state_.peak_lr : tc.lr;
  const double min_lr = tc.lr > 0 ? tc.min_lr * state_.peak_lr / tc.lr : tc.min_lr;
  const bool global = tc.schedule == "global";
  const int64_t end_step = global ? std::max(tc.global_steps, tc.steps) : stage_start + tc.steps;
  const LrSchedule schedule{state_.peak_lr, min_lr, tc.warmup_steps, global ? end_step : tc.steps};
  auto lr_at = [&](int64_t step) { return schedule.at(global ? step : step - stage_start); };

  MetricsLog metrics((dir / "metrics.h5").string());
  const double step_flops = 3.0 * model_->forward_flops(batch, seq);
  const int64_t n_params = model_->n_params();
  const int64_t eval_every = tc.eval_every > 0 ? tc.eval_every : tc.steps;
  const int64_t ckpt_every = tc.checkpoint_every > 0 ? tc.checkpoint_every : eval_every;
  const nlohmann::json config_json = config_.to_json();

  TrainResult result;
  out_ << "model: " << to_string(config_.model.architecture) << ", " << n_params << " parameters, "
       << config_.model.n_layers << " layers, d " << config_.model.d_model << "; " << step_flops / 1e9
       << " GFLOP per step; " << engine_.threads() << " threads\n";

  auto write_row = [&](double train_loss, double val_loss, double lr) {
    metrics.append({state_.step, state_.tokens, state_.flops, train_loss, val_loss,
                    std::isnan(val_loss) ? val_loss : std::exp(val_loss), lr, state_.wall_s, n_params, state_.stage,
                    state_.skipped_steps, state_.rollbacks});
  };

  model_->set_step(state_.step);
  if (new_stage) {
    // The stage's starting point: step 0, or the grown model right after growth.
    const double v0 = validate();
    result.first_val_loss = v0;
    out_ << "step " << state_.step << " | val loss " << v0 << " | val ppl " << std::exp(v0) << "\n";
    write_row(std::numeric_limits<double>::quiet_NaN(), v0, lr_at(state_.step));
    // The stage's starting point is checkpointed too, so a kill or a divergence in
    // its first steps can resume or roll back without redoing the stage setup.
    save_checkpoint(latest.string(), config_json, *model_, optimizer_.get(), state_);
  }

  std::vector<int32_t> inputs, targets;
  int64_t consecutive_bad = 0;
  auto interval_start = std::chrono::steady_clock::now();
  int64_t interval_tokens = 0;
  while (state_.step < end_step) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = lr_at(state_.step) * state_.lr_scale;
    model_->set_step(state_.step);
    if (step_hook_) step_hook_(state_.step + 1, *model_);
    sampler.next(inputs, targets);
    model_->zero_grad();
    const double loss = model_->forward(engine_, inputs, targets, batch, seq, true);
    double grad_norm = loss;
    if (std::isfinite(loss)) {
      model_->backward(engine_);
      grad_norm = optimizer_->clip_grad_norm(tc.grad_clip);
    }
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      // No update: the parameters and moments stay as they were.
      ++state_.skipped_steps;
      ++consecutive_bad;
      state_.data_rng = sampler.rng_state();
      out_ << "step " << state_.step + 1 << ": non-finite " << (std::isfinite(loss) ? "gradient" : "loss")
           << ", skipped (" << consecutive_bad << " in a row, " << state_.skipped_steps << " in all)" << std::endl;
      if (consecutive_bad < tc.max_bad_steps) continue;
      const std::string why = std::to_string(consecutive_bad) + " consecutive non-finite steps at step " +
                              std::to_string(state_.step + 1);
      if (tc.on_divergence == "stop")
        throw UserError(out_dir + ": training diverged: " + why + "; lower train.lr or raise train.warmup_steps");
      const TrainState failed = state_;
      load_checkpoint(latest.string(), *model_, optimizer_.get(), &state_);
      state_.skipped_steps = failed.skipped_steps;
      state_.rollbacks = failed.rollbacks + 1;
      state_.lr_scale = failed.lr_scale * tc.rollback_lr_factor;
      sampler.set_rng_state(state_.data_rng);
      if (fs::exists(metrics_path)) metrics.truncate_after(state_.step);
      out_ << "rolled back to " << latest.string() << " (step " << state_.step << ") after " << why
           << "; learning rate now x" << state_.lr_scale << std::endl;
      consecutive_bad = 0;
      continue;
    }
    consecutive_bad = 0;
    optimizer_->step(lr);
    ++state_.step;
    state_.tokens += batch * seq;
    state_.flops += step_flops;
    state_.data_rng = sampler.rng_state();
    state_.wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state_.log_loss_sum += loss;
    ++state_.log_loss_count;
    interval_tokens += batch * seq;

    model_->set_step(state_.step);
    const int64_t stage_step = state_.step - stage_start;
    const bool last = state_.step == end_step;
    const bool do_log = stage_step % tc.log_every == 0 || last;
    const bool do_eval = stage_step % eval_every == 0 || last;
    const bool do_ckpt = stage_step % ckpt_every == 0 || last;
    if (do_log || do_eval) {
      const double train_loss = state_.log_loss_sum / static_cast<double>(state_.log_loss_count);
      const auto now = std::chrono::steady_clock::now();
      const double interval_s = std::chrono::duration<double>(now - interval_start).count();
      const double tok_per_s = interval_tokens / std::max(interval_s, 1e-9);
      const double eta = static_cast<double>(end_step - state_.step) * batch * seq / std::max(tok_per_s, 1e-9);
      char line[256];
      std::snprintf(line, sizeof line, "step %ld/%ld | loss %.4f | lr %.2e | %.0f tok/s | ETA %s",
                    static_cast<long>(state_.step), static_cast<long>(end_step), train_loss, lr, tok_per_s,
                    format_duration(eta).c_str());
      out_ << line;
      double val_loss = std::numeric_limits<double>::quiet_NaN();
      if (do_eval) {
        val_loss = validate();
        std::snprintf(line, sizeof line, " | val loss %.4f | val ppl %.3f", val_loss, std::exp(val_loss));
        out_ << line;
        result.final_val_loss = val_loss;
      }
      out_ << std::endl;
      write_row(train_loss, val_loss, lr);
      result.final_train_loss = train_loss;
      state_.log_loss_sum = 0;
      state_.log_loss_count = 0;
      interval_tokens = 0;
      interval_start = std::chrono::steady_clock::now();
    }
    if (do_ckpt) {
      const fs::path ckpt = dir / ("ckpt_" + std::to_string(state_.step) + ".h5");
      save_checkpoint(ckpt.string(), config_json, *model_, optimizer_.get(), state_);
      save_checkpoint(latest.string(), config_json, *model_, optimizer_.get(), state_);
      if (tc.keep_checkpoints > 0) remove_old_checkpoints(dir, tc.keep_checkpoints);
    }
    if (!last && stop_hook_ && stop_hook_()) {
      result.interrupted = true;
      break;
    }
  }
  if (!result.interrupted && result.final_val_loss == 0) result.final_val_loss = validate();  // already finished
  result.steps = state_.step;
  result.tokens = state_.tokens;
  result.flops = state_.flops;
  result.wall_s = state_.wall_s;
  return result;
}

}  // namespace tg
