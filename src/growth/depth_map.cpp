#include "growth/depth_map.h"

namespace tg {

std::vector<int64_t> depth_sources(int64_t old_layers, int64_t new_layers, DepthInit init, DepthPosition position) {
  std::vector<int64_t> sources(static_cast<size_t>(new_layers), -1);
  for (int64_t j = 0; j < new_layers; ++j) {
    switch (init) {
      case DepthInit::Stack: sources[j] = j % old_layers; break;
      case DepthInit::Interleave: sources[j] = j * old_layers / new_layers; break;
      case DepthInit::Identity: sources[j] = position == DepthPosition::End && j < old_layers ? j : -1; break;
    }
  }
  if (init == DepthInit::Identity && position == DepthPosition::Interleave)
    for (int64_t i = 0; i < old_layers; ++i) sources[i * new_layers / old_layers] = i;
  return sources;
}

bool writes_residual(const std::string& local_name) {
  return local_name == "attn/proj/values" || local_name == "ffn/values" ||  // TokenFormer
         local_name == "attn/proj/weight" || local_name == "ffn/down/weight";  // Transformer
}

}  // namespace tg
