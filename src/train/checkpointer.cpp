#include "train/checkpointer.h"

#include <filesystem>

#include "core/durable_file.h"
#include "train/checkpoint.h"

namespace tg {

Checkpointer::Checkpointer(const RunDirectory& dir, nlohmann::json config, int64_t keep_checkpoints)
    : dir_(dir), config_(std::move(config)), keep_(keep_checkpoints) {}

void Checkpointer::save_latest(LanguageModel& model, AdamW& optimizer, const TrainState& state) const {
  save_checkpoint(dir_.latest_path(), config_, model, &optimizer, state);
}

void Checkpointer::save(LanguageModel& model, AdamW& optimizer, const TrainState& state) const {
  // Serialised once and written once: latest.h5 becomes a second name of ckpt_<step>.h5
  // (a copy of the same bytes where the file system has no hard links).
  const std::string ckpt = dir_.checkpoint_path(state.step);
  const std::vector<char> bytes = checkpoint_bytes(ckpt, config_, model, &optimizer, state);
  const std::string_view view(bytes.data(), bytes.size());
  write_file_durably(ckpt, view);
  if (!link_file_durably(ckpt, dir_.latest_path())) write_file_durably(dir_.latest_path(), view);
  if (keep_ > 0) remove_old_checkpoints();
}

void Checkpointer::remove_old_checkpoints() const {
  const auto found = dir_.checkpoints();
  std::error_code ec;
  for (size_t i = 0; i + static_cast<size_t>(keep_) < found.size(); ++i) std::filesystem::remove(found[i].path, ec);
}

}  // namespace tg
