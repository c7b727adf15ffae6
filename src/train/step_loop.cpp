#include "train/step_loop.h"

#include "core/log.h"
#include "train/checkpoint.h"
#include "train/rank_agreement.h"

namespace tg {

MetricsRow metrics_row(const TrainState& state, int64_t n_params, double train_loss, double val_loss, double lr,
                       double val_bpb_per_nat) {
  return {state.step,   state.tokens, state.flops,  train_loss,         val_loss,
          std::isnan(val_loss) ? val_loss : std::exp(val_loss), lr, state.wall_s, n_params, state.stage,
          state.skipped_steps, state.rollbacks, val_loss * val_bpb_per_nat};
}

StepLoop::StepLoop(const StepLoopParts& parts, const TrainConfig& config, const StageSchedule& schedule,
                   const StepHooks& hooks)
    : p_(parts),
      config_(config),
      schedule_(schedule),
      hooks_(hooks),
      cost_(step_cost(parts.model.config(), config.batch_size, config.grad_accum, parts.comm.size())),
      guard_(config, parts.dir),
      progress_(cost_.tokens),
      n_params_(parts.model.n_params()) {
  if (cost_.micro_batches > 1) reducer_.emplace(parts.optimizer.params(), parts.comm, config.deterministic_reduce);
}

StepLoopResult StepLoop::run() {
  StepLoopResult result;
  while (p_.state.step < schedule_.end_step()) {
    const auto started = std::chrono::steady_clock::now();
    const double lr = schedule_.lr_at(p_.state.step) * p_.state.lr_scale;
    const StepOutcome step = forward_backward();
    if (!step.finite()) {
      // No update: the parameters and moments stay as they were.
      p_.state.data_rng = p_.sampler.rng_state();
      if (guard_.bad_step(p_.state, std::isfinite(step.loss), p_.log)) roll_back();
      continue;
    }
    take_step(step.loss, lr, started);
    const int64_t at = p_.state.step;
    guard_.step_taken(at);
    if (schedule_.log_point(at) || schedule_.eval_point(at)) log_point(lr, schedule_.eval_point(at), result);
    if (config_.replica_check_every > 0 && at % config_.replica_check_every == 0)
      check_replicas(p_.comm, p_.optimizer.params(), "after step " + std::to_string(at));
    if (schedule_.checkpoint_point(at) && p_.metrics) {
      p_.metrics->sync();  // the rows up to this checkpoint on disk before it
      p_.checkpointer->save(p_.model, p_.optimizer, p_.state);
      p_.log.debug(line("checkpoint ", p_.dir.checkpoint_path(at), " written, and as ", p_.dir.latest_path()));
    }
    if (at != schedule_.end_step() && hooks_.stop && hooks_.stop()) {
      result.interrupted = true;
      break;
    }
  }
  return result;
}

StepLoop::StepOutcome StepLoop::forward_backward() {
  p_.model.set_step(p_.state.step);
  if (hooks_.before_step) hooks_.before_step(p_.state.step + 1, p_.model);
  StepOutcome outcome;
  const int64_t accum = config_.grad_accum, rank = p_.comm.rank();
  if (!reducer_) {  // one micro-batch in one process: backward's gradient is the step's
    outcome.loss = micro_batches(1);
  } else {
    // Every rank walks the one stream of micro-batches; rank r trains on its
    // [r accum, (r + 1) accum) share of the step's and skips the others'.
    reducer_->begin_step();
    p_.sampler.skip(rank * accum);
    const double local_sum = micro_batches(accum);
    p_.sampler.skip((p_.comm.size() - 1 - rank) * accum);
    outcome.loss = mean_loss_over_ranks(p_.comm, local_sum, cost_.micro_batches);
    if (std::isfinite(outcome.loss)) reducer_->reduce(cost_.micro_batches);
  }
  outcome.grad_norm = outcome.loss;
  if (std::isfinite(outcome.loss)) {
    if (hooks_.gradients) hooks_.gradients(p_.optimizer.params());
    p_.optimizer.set_frozen_rows(p_.state.frozen_now() ? &p_.state.frozen_rows : nullptr);
    outcome.grad_norm = p_.optimizer.clip_grad_norm(config_.grad_clip);
  }
  return outcome;
}

double StepLoop::micro_batches(int64_t count) {
  double loss_sum = 0;
  for (int64_t k = 0; k < count; ++k) {
    p_.sampler.next(inputs_, targets_);
    p_.model.zero_grad();
    const double loss =
        p_.model.forward(p_.engine, inputs_, targets_, config_.batch_size, p_.model.config().seq_len, true);
    loss_sum += loss;
    if (!std::isfinite(loss)) continue;  // the step is skipped; its gradient is never used
    p_.model.backward(p_.engine);
    if (reducer_) reducer_->add();
  }
  return loss_sum;
}

void StepLoop::take_step(double loss, double lr, std::chrono::steady_clock::time_point started) {
  p_.optimizer.step(lr);
  TrainState& s = p_.state;
  ++s.step;
  s.tokens += cost_.tokens;
  s.flops += cost_.model_flops;
  s.data_rng = p_.sampler.rng_state();
  s.wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  s.log_loss_sum += loss;
  ++s.log_loss_count;
  progress_.step_taken();
  p_.model.set_step(s.step);
}

void StepLoop::log_point(double lr, bool validate, StepLoopResult& result) {
  TrainState& s = p_.state;
  const double train_loss = s.log_loss_sum / static_cast<double>(s.log_loss_count);
  std::string text = progress_.line(s.step, schedule_.end_step(), train_loss, lr);  // tokens/s before validating
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  if (validate) {
    val_loss = p_.validate();
    char val[96];
    std::snprintf(val, sizeof val, " | val loss %.4f | val ppl %.3f | val bpb %.4f", val_loss, std::exp(val_loss),
                  val_loss * p_.val_bpb_per_nat);
    text += val;
    result.last_val_loss = val_loss;
  }
  p_.log.info(text);
  if (p_.metrics) p_.metrics->append(metrics_row(s, n_params_, train_loss, val_loss, lr, p_.val_bpb_per_nat));
  result.last_train_loss = train_loss;
  s.log_loss_sum = 0;
  s.log_loss_count = 0;
  progress_.restart();
}

void StepLoop::roll_back() {
  const TrainState failed = p_.state;
  const std::string target = guard_.rollback_target();
  TrainState restored;
  load_checkpoint(target, p_.model, &p_.optimizer, &restored);
  p_.state = guard_.rolled_back(failed, restored, target);
  p_.sampler.set_rng_state(p_.state.data_rng);
  if (p_.metrics) {
    p_.metrics->truncate_after(p_.state.step);
    // The rolled-back state (lowered LR, counts) becomes latest.h5: a run killed now
    // resumes from it, and a next rollback sees that this point was restored.
    p_.checkpointer->save_latest(p_.model, p_.optimizer, p_.state);
  }
  p_.log.warn(line("rolled back to ", target, " (step ", p_.state.step, ") after ", guard_.reason(),
                   "; learning rate now x", p_.state.lr_scale));
}

}  // namespace tg
