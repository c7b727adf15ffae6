// The fault-injection suite (see tests/faults/fault_fixtures.h and docs/reliability.md).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
