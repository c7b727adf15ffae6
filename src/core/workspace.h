#pragma once
// Buffers shared by whatever runs on one Engine, kept by type: get<Buffers>() returns the
// one Buffers of this workspace, default-constructed on first use. The callers define
// the buffer structs (which buffers exist, who may use them when); the workspace only
// keeps one of each alive for the engine's lifetime, so a struct used by every layer of
// a model is held once, not once per layer.
#include <map>
#include <memory>
#include <typeindex>

namespace tg {

class Workspace {
 public:
  template <class Buffers>
  Buffers& get() {
    std::shared_ptr<void>& slot = slots_[std::type_index(typeid(Buffers))];
    if (!slot) slot = std::make_shared<Buffers>();  // the shared_ptr keeps Buffers' destructor
    return *static_cast<Buffers*>(slot.get());
  }

 private:
  std::map<std::type_index, std::shared_ptr<void>> slots_;
};

}  // namespace tg
