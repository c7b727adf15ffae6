#pragma once
// Sizes for the tests that are slow under AddressSanitizer + UndefinedBehaviorSanitizer
// (scripts/test.sh --full), where instrumented code, Eigen's fits above all, runs many
// times slower: the same checks, on less data. CMake defines TOKENGROW_SANITIZED in that
// build only.

namespace tg::testing {

#ifdef TOKENGROW_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// `release` in the optimised build, `sanitized` under the sanitizers.
template <class T>
constexpr T release_or_sanitized(T release, T sanitized) {
  return kSanitized ? sanitized : release;
}

}  // namespace tg::testing
