#pragma once
// The checks shared by the tests for a call that must fail (or may fail) with one clear
// UserError.
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"

namespace tg::testing {

// The message of the UserError `f` throws; nullopt if it returns.
template <typename F>
std::optional<std::string> user_error_message(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// The message of the UserError `f` throws, or "no error" if it returns.
template <typename F>
std::string error_of(F&& f) {
  return user_error_message(std::forward<F>(f)).value_or("no error");
}

// The message of the UserError `f` must throw; fails the test if it returns.
template <typename F>
std::string user_error_of(F&& f) {
  const std::optional<std::string> message = user_error_message(std::forward<F>(f));
  if (!message) FAIL("expected a UserError");
  return *message;
}

// Runs `f`, which must throw a UserError whose message contains every fragment.
template <typename F>
void require_user_error(F&& f, const std::vector<std::string>& fragments) {
  const std::string message = user_error_of(std::forward<F>(f));
  INFO("message: " << message);
  for (const auto& fragment : fragments) REQUIRE(message.find(fragment) != std::string::npos);
}

}  // namespace tg::testing
