#include "core/parameter.h"

#include <cstdlib>

namespace tg {

namespace {
constexpr const char* kBlockPrefix = "layers/";
constexpr size_t kBlockPrefixSize = 7;

// Position of the '/' after the block index, or npos if `name` is not a block's.
size_t block_end(const std::string& name) {
  if (name.compare(0, kBlockPrefixSize, kBlockPrefix) != 0) return std::string::npos;
  const size_t slash = name.find('/', kBlockPrefixSize);
  if (slash == kBlockPrefixSize || slash == std::string::npos) return std::string::npos;
  for (size_t i = kBlockPrefixSize; i < slash; ++i)
    if (name[i] < '0' || name[i] > '9') return std::string::npos;
  return slash;
}
}  // namespace

int64_t block_of(const std::string& name) {
  const size_t end = block_end(name);
  return end == std::string::npos ? -1 : std::strtoll(name.c_str() + kBlockPrefixSize, nullptr, 10);
}

std::string name_in_block(const std::string& name) {
  const size_t end = block_end(name);
  return end == std::string::npos ? name : name.substr(end + 1);
}

std::string block_parameter_name(int64_t block, const std::string& local) {
  return kBlockPrefix + std::to_string(block) + "/" + local;
}

}  // namespace tg
