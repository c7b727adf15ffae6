#pragma once
// A check shared by the tests: a call that must fail with one clear UserError.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"

namespace tg::testing {

// Runs `f`, which must throw a UserError whose message contains every fragment.
template <typename F>
void require_user_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      INFO("message: " << message);
      REQUIRE(message.find(fragment) != std::string::npos);
    }
  }
}

}  // namespace tg::testing
