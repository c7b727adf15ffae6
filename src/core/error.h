#pragma once
// Errors a user can fix (bad config, missing file, wrong flag). The CLI prints the
// message on one line and exits with code 2; everything else is a bug and exits 1.
#include <stdexcept>
#include <string>

namespace tg {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tg
